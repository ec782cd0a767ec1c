#include "gabe/json.hpp"

#include <gtest/gtest.h>

namespace gabe {
namespace {

int status_of(const std::string& text) {
  try {
    parse_json(text);
    return 0;
  } catch (const Problem& p) {
    return p.status();
  }
}

TEST(Json, RejectsMalformedTruncatedAndDeepDocuments) {
  EXPECT_EQ(status_of("{\"a\":1}"), 0);
  EXPECT_EQ(status_of("{\"a\":"), 400);
  EXPECT_EQ(status_of("not json"), 400);
  EXPECT_EQ(status_of(""), 400);
  EXPECT_EQ(status_of("{} trailing"), 400);
  EXPECT_EQ(status_of(std::string(10000, '[') + std::string(10000, ']')), 400);
  EXPECT_EQ(status_of(std::string(32, '[') + std::string(32, ']')), 0);
  // Brackets inside strings do not count as nesting.
  EXPECT_EQ(status_of("{\"a\":\"" + std::string(100, '[') + "\"}"), 0);
}

TEST(Json, RejectsInvalidUtf8) {
  EXPECT_EQ(status_of("{\"a\":\"\xff\xfe\"}"), 400);
  EXPECT_EQ(status_of("{\"a\":\"\xc3\x28\"}"), 400);
  EXPECT_EQ(status_of("{\"a\":\"Gr\xc3\xbc\xc3\x9f\x65\"}"), 0);
}

TEST(Json, RejectsDuplicateKeysAtAnyLevel) {
  EXPECT_EQ(status_of(R"({"a":1,"a":2})"), 400);
  EXPECT_EQ(status_of(R"({"d":{"amount":"1.00","amount":"900.00"}})"), 400);
  EXPECT_EQ(status_of(R"([{"a":1},{"a":2}])"), 0);
  EXPECT_EQ(status_of(R"({"a":{"a":1}})"), 0);
}

TEST(Json, RejectsEscapesThatAreNotUnicodeText) {
  EXPECT_EQ(status_of(R"({"a":"a\udc00b"})"), 400);  // a lone low surrogate
  EXPECT_EQ(status_of(R"({"a\udc00":1})"), 400);
  EXPECT_EQ(status_of(R"({"a":"\ud83d\ude00"})"), 0);  // a pair is one character
}

TEST(Json, RejectsNumbersThatADoubleCannotHoldAsWritten) {
  EXPECT_EQ(status_of(R"({"m":19.990000000000001})"), 400);
  EXPECT_EQ(status_of(R"({"m":123456789012345678901})"), 400);
  EXPECT_EQ(status_of(R"({"m":1e400})"), 400);
  EXPECT_EQ(status_of(R"({"m":0.30000000000000004})"), 0);
  EXPECT_EQ(
      status_of(R"({"m":-0.0, "n":1.50e3, "o":18446744073709551615, "p":-9223372036854775808})"),
      0);
  auto doc = parse_json(R"({"i":-42,"u":18446744073709551615,"d":1.5e3})");
  EXPECT_EQ((*doc)["i"].GetInt64(), -42);
  EXPECT_EQ((*doc)["u"].GetUint64(), 18446744073709551615ULL);
  EXPECT_EQ((*doc)["d"].GetDouble(), 1500.0);
}

TEST(FieldReader, MoneyFromJsonNumbersIsExact) {
  auto doc = parse_json(R"({"a":12345.678,"b":1000.001,"c":12345.67,"d":25,"e":"1000.001"})");
  FieldReader r(*doc);
  EXPECT_FALSE(r.money("a"));
  EXPECT_FALSE(r.money("b"));
  EXPECT_EQ(r.money("c"), 1234567);
  EXPECT_EQ(r.money("d"), 2500);
  EXPECT_FALSE(r.money("e"));
  EXPECT_EQ(r.errors().size(), 3u);
}

TEST(FieldReader, ChecksTypesAndCollectsEveryError) {
  auto doc = parse_json(
      R"({"s": 5, "b": "yes", "n": 1.5, "m": "19.999", "d": "2026-02-30", "ok": "x", "l": [1]})");
  FieldReader r(*doc, "data.");
  EXPECT_FALSE(r.string("s"));
  EXPECT_FALSE(r.boolean("b"));
  EXPECT_FALSE(r.integer("n"));
  EXPECT_FALSE(r.money("m"));
  EXPECT_FALSE(r.date("d"));
  EXPECT_FALSE(r.string("missing", true));
  EXPECT_FALSE(r.string_list("l"));
  EXPECT_EQ(r.string("ok"), "x");
  ASSERT_EQ(r.errors().size(), 7u);
  EXPECT_EQ(r.errors()[0].field, "data.s");
  EXPECT_EQ(r.errors()[5].field, "data.missing");
  try {
    r.throw_if_errors();
    FAIL();
  } catch (const Problem& p) {
    EXPECT_EQ(p.status(), 422);
    EXPECT_EQ(p.errors().size(), 7u);
  }
}

TEST(FieldReader, MoneyFromStringsAndNumbers) {
  auto doc = parse_json(R"({"a": "19.99", "b": 19.99, "c": 0, "d": -1, "e": "2000000000.00"})");
  FieldReader r(*doc);
  EXPECT_EQ(r.money("a"), 1999);
  EXPECT_EQ(r.money("b"), 1999);
  EXPECT_FALSE(r.money("c"));
  EXPECT_FALSE(r.money("d"));
  EXPECT_FALSE(r.money("e"));
  EXPECT_EQ(r.errors().size(), 3u);
}

TEST(JsonWriter, EscapesStrings) {
  JsonWriter w;
  w.begin_object().field("a", std::string("\"quoted\"\n")).field("n", std::int64_t{5}).end_object();
  EXPECT_EQ(w.take(), R"({"a":"\"quoted\"\n","n":5})");
}

TEST(JsonWriter, WritesInvalidUtf8WithReplacementCharacters) {
  const std::string r = "\xef\xbf\xbd";
  const auto written = [](std::string_view text) {
    JsonWriter w;
    w.begin_object().field(text, text).end_object();
    return w.take();
  };
  const auto expect = [](const std::string& text) { return "{\"" + text + "\":\"" + text + "\"}"; };
  EXPECT_EQ(written("D\xc3\xbc\xe2\x82\xac"), expect("D\xc3\xbc\xe2\x82\xac"));
  EXPECT_EQ(written("name\xe2\x82"), expect("name" + r + r));  // a cut sequence
  EXPECT_EQ(written("\xc0\xaf"), expect(r + r));               // overlong
  EXPECT_EQ(written("\xed\xa0\x80"), expect(r + r + r));       // surrogate
  EXPECT_EQ(written("a\x80z"), expect("a" + r + "z"));         // lone continuation byte
  // What is written always parses as valid JSON with valid UTF-8.
  std::string all;
  for (int b = 1; b < 256; ++b) all += static_cast<char>(b);
  JsonWriter w;
  w.begin_array().value(all).value(std::vector<std::string>{all}).end_array();
  EXPECT_NO_THROW(parse_json(w.take()));
}

TEST(FieldReader, RefusesUnknownFieldsNamingEach) {
  auto doc = parse_json(R"({"name": "x", "ownr": "y", "n\u00e4me": 1})");
  FieldReader r(*doc, "data.");
  r.refuse_unknown({"name", "owner"});
  ASSERT_EQ(r.errors().size(), 2u);
  EXPECT_EQ(r.errors()[0].field, "data.ownr");
  EXPECT_EQ(r.errors()[0].message, "is not a field of this request");
  EXPECT_EQ(r.errors()[1].field, "data.n\xc3\xa4me");
  // A long key is cut to 64 bytes, never inside a character.
  const std::string key = std::string(63, 'k') + "\xc3\xa4" + std::string(100, 'k');
  auto long_doc = parse_json("{\"" + key + "\": 1}");
  FieldReader l(*long_doc);
  l.refuse_unknown({});
  ASSERT_EQ(l.errors().size(), 1u);
  EXPECT_EQ(l.errors()[0].field, std::string(63, 'k'));
  // Nothing to refuse in a body that is not an object (its type is checked elsewhere).
  auto array = parse_json("[1]");
  FieldReader a(*array);
  a.refuse_unknown({});
  EXPECT_TRUE(a.ok());
}

}  // namespace
}  // namespace gabe
