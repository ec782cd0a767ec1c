#include "gabe/json.hpp"

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <string>
#include <unordered_set>

#include "gabe/text.hpp"
#include "gabe/values.hpp"

namespace gabe {

namespace {

// How much of an unknown key an error message repeats.
constexpr std::size_t kMaxEchoedKeyBytes = 64;

// Depth of the deepest array/object nesting, counted before RapidJSON sees the text, so that
// a 10,000-deep document is refused without recursion or large allocations.
bool exceeds_depth(std::string_view text, std::size_t max_depth) {
  std::size_t depth = 0;
  bool in_string = false;
  bool escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return true;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return false;
}

const char* type_name(const JsonValue& v) {
  if (v.IsString()) return "a string";
  if (v.IsNumber()) return "a number";
  if (v.IsBool()) return "a boolean";
  if (v.IsObject()) return "an object";
  if (v.IsArray()) return "an array";
  return "null";
}

// A decimal number as significant digits without leading or trailing zeros and the exponent
// of the first one: value = 0.DIGITS x 10^exponent. Equal values have equal forms.
struct DecimalForm {
  bool negative = false;
  std::string digits;
  long exponent = 0;
  bool operator==(const DecimalForm&) const = default;
};

// `text` is a number as JSON writes it (RapidJSON has checked the syntax).
DecimalForm decimal_form(std::string_view text) {
  DecimalForm f;
  std::size_t i = 0;
  if (i < text.size() && text[i] == '-') {
    f.negative = true;
    ++i;
  }
  long point = 0;
  bool after_point = false;
  for (; i < text.size() && text[i] != 'e' && text[i] != 'E'; ++i) {
    if (text[i] == '.') {
      after_point = true;
    } else {
      f.digits.push_back(text[i]);
      if (!after_point) ++point;
    }
  }
  long exponent = 0;
  if (i < text.size()) {
    ++i;
    bool negative_exponent = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) negative_exponent = text[i++] == '-';
    for (; i < text.size(); ++i) {
      if (exponent < 100000) exponent = exponent * 10 + (text[i] - '0');
    }
    if (negative_exponent) exponent = -exponent;
  }
  std::size_t first = f.digits.find_first_not_of('0');
  if (first == std::string::npos) return DecimalForm{};  // zero, whatever its sign
  std::size_t last = f.digits.find_last_not_of('0');
  f.digits = f.digits.substr(first, last - first + 1);
  f.exponent = point + exponent - static_cast<long>(first);
  return f;
}

// Builds the document from RapidJSON's events and refuses what its DOM would take silently:
// duplicate keys (RapidJSON keeps both and lookups find the first), text that is not valid
// UTF-8 (RapidJSON 1.1.0 turns a lone "\udc00" escape into bytes that are not), and numbers
// that a double cannot hold as written (19.990000000000001 would become 19.99).
class StrictBuilder {
 public:
  explicit StrictBuilder(rapidjson::Document& doc) : doc_(&doc) {}
  void attach(rapidjson::Document& doc) { doc_ = &doc; }
  const std::string& error() const { return error_; }

  // RapidJSON's handler interface names these methods.
  // NOLINTBEGIN(readability-identifier-naming)
  bool Null() { return doc_->Null(); }
  bool Bool(bool b) { return doc_->Bool(b); }
  bool Int(int i) { return doc_->Int(i); }
  bool Uint(unsigned u) { return doc_->Uint(u); }
  bool Int64(std::int64_t i) { return doc_->Int64(i); }
  bool Uint64(std::uint64_t u) { return doc_->Uint64(u); }
  bool Double(double d) { return doc_->Double(d); }

  bool RawNumber(const char* str, rapidjson::SizeType length, bool) {
    std::string_view text(str, length);
    if (text.find_first_of(".eE") == std::string_view::npos) {
      if (text.front() == '-') {
        std::int64_t i = 0;
        if (std::from_chars(text.data(), text.data() + text.size(), i).ec == std::errc{}) {
          return doc_->Int64(i);
        }
      } else {
        std::uint64_t u = 0;
        if (std::from_chars(text.data(), text.data() + text.size(), u).ec == std::errc{}) {
          return doc_->Uint64(u);
        }
      }
    }
    const std::string copy(text);
    const double d = std::strtod(copy.c_str(), nullptr);
    char shortest[64];
    auto written = std::to_chars(shortest, shortest + sizeof shortest, d);
    if (!std::isfinite(d) || written.ec != std::errc{} ||
        !(decimal_form(std::string_view(shortest, written.ptr - shortest)) == decimal_form(text))) {
      return fail("The number " + copy.substr(0, 40) +
                  " has more digits than can be kept exactly; send it as a string");
    }
    return doc_->Double(d);
  }

  bool String(const char* str, rapidjson::SizeType length, bool copy) {
    if (!is_valid_utf8(std::string_view(str, length))) return fail("A string is not valid UTF-8");
    return doc_->String(str, length, copy);
  }
  bool Key(const char* str, rapidjson::SizeType length, bool copy) {
    std::string_view key(str, length);
    if (!is_valid_utf8(key)) return fail("A key is not valid UTF-8");
    if (!keys_.back().emplace(key).second) {
      return fail("The key \"" + std::string(key.substr(0, 64)) + "\" appears twice in one object");
    }
    return doc_->Key(str, length, copy);
  }
  bool StartObject() {
    keys_.emplace_back();
    return doc_->StartObject();
  }
  bool EndObject(rapidjson::SizeType count) {
    keys_.pop_back();
    return doc_->EndObject(count);
  }
  bool StartArray() { return doc_->StartArray(); }
  bool EndArray(rapidjson::SizeType count) { return doc_->EndArray(count); }
  // NOLINTEND(readability-identifier-naming)

 private:
  bool fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  rapidjson::Document* doc_;
  std::vector<std::unordered_set<std::string>> keys_;
  std::string error_;
};

}  // namespace

std::unique_ptr<rapidjson::Document> parse_json(std::string_view text, JsonLimits limits) {
  if (exceeds_depth(text, limits.max_depth)) {
    throw bad_request("JSON nesting deeper than " + std::to_string(limits.max_depth) +
                      " levels is not accepted.");
  }
  auto doc = std::make_unique<rapidjson::Document>();
  StrictBuilder builder(*doc);
  rapidjson::ParseResult result;
  auto generate = [&](rapidjson::Document& handler) {
    builder.attach(handler);
    rapidjson::Reader reader;
    rapidjson::MemoryStream stream(text.data(), text.size());
    constexpr unsigned kFlags = rapidjson::kParseIterativeFlag |
                                rapidjson::kParseValidateEncodingFlag |
                                rapidjson::kParseNumbersAsStringsFlag;
    result = reader.Parse<kFlags>(stream, builder);
    return !result.IsError();
  };
  doc->Populate(generate);
  if (result.IsError()) {
    if (!builder.error().empty()) {
      throw bad_request(builder.error() + " (at offset " + std::to_string(result.Offset()) + ")");
    }
    throw bad_request(std::string("Invalid JSON at offset ") + std::to_string(result.Offset()) +
                      ": " + rapidjson::GetParseError_En(result.Code()));
  }
  return doc;
}

const JsonValue* member(const JsonValue& object, std::string_view key) {
  if (!object.IsObject()) return nullptr;
  auto it = object.FindMember(rapidjson::Value(
      rapidjson::StringRef(key.data(), static_cast<rapidjson::SizeType>(key.size()))));
  if (it == object.MemberEnd() || it->value.IsNull()) return nullptr;
  return &it->value;
}

FieldReader::FieldReader(const JsonValue& object, std::string prefix)
    : object_(object), prefix_(std::move(prefix)) {}

std::string FieldReader::name(std::string_view key) const {
  return prefix_ + std::string(key);
}

void FieldReader::add_error(std::string_view key, std::string message) {
  errors_.push_back({name(key), std::move(message)});
}

void FieldReader::refuse_unknown(std::initializer_list<std::string_view> allowed) {
  if (!object_.IsObject()) return;
  for (auto it = object_.MemberBegin(); it != object_.MemberEnd(); ++it) {
    const std::string_view key(it->name.GetString(), it->name.GetStringLength());
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      add_error(utf8_prefix(key, kMaxEchoedKeyBytes), "is not a field of this request");
  }
}

const JsonValue* FieldReader::find(std::string_view key, bool required) {
  const JsonValue* v = member(object_, key);
  if (!v && required) add_error(key, "is required");
  return v;
}

std::optional<std::string> FieldReader::string(std::string_view key, bool required,
                                               std::size_t max_length) {
  const JsonValue* v = find(key, required);
  if (!v) return std::nullopt;
  if (!v->IsString()) {
    add_error(key, std::string("must be a string, not ") + type_name(*v));
    return std::nullopt;
  }
  std::string s(v->GetString(), v->GetStringLength());
  if (s.size() > max_length) {
    add_error(key, "must be at most " + std::to_string(max_length) + " bytes long");
    return std::nullopt;
  }
  if (s.find('\0') != std::string::npos) {
    add_error(key, "must not contain NUL characters");
    return std::nullopt;
  }
  if (required && s.empty()) {
    add_error(key, "must not be empty");
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> FieldReader::one_of(std::string_view key,
                                               const std::vector<std::string_view>& allowed,
                                               bool required) {
  auto s = string(key, required, 64);
  if (!s) return std::nullopt;
  for (auto a : allowed) {
    if (*s == a) return s;
  }
  std::string list;
  for (auto a : allowed) {
    if (!list.empty()) list += ", ";
    list += a;
  }
  add_error(key, "must be one of: " + list);
  return std::nullopt;
}

std::optional<bool> FieldReader::boolean(std::string_view key, bool required) {
  const JsonValue* v = find(key, required);
  if (!v) return std::nullopt;
  if (!v->IsBool()) {
    add_error(key, std::string("must be a boolean, not ") + type_name(*v));
    return std::nullopt;
  }
  return v->GetBool();
}

std::optional<std::int64_t> FieldReader::integer(std::string_view key, bool required,
                                                 std::int64_t min, std::int64_t max) {
  const JsonValue* v = find(key, required);
  if (!v) return std::nullopt;
  if (!v->IsInt64()) {
    add_error(key, "must be a whole number");
    return std::nullopt;
  }
  auto n = v->GetInt64();
  if (n < min || n > max) {
    add_error(key, "must be between " + std::to_string(min) + " and " + std::to_string(max));
    return std::nullopt;
  }
  return n;
}

std::optional<std::int64_t> FieldReader::money(std::string_view key, bool required, bool positive) {
  const JsonValue* v = find(key, required);
  if (!v) return std::nullopt;
  std::optional<std::int64_t> cents;
  if (v->IsString()) {
    cents = parse_money(std::string_view(v->GetString(), v->GetStringLength()));
  } else if (v->IsNumber()) {
    // parse_json only lets through numbers that a double holds exactly as written, so the
    // double's shortest text is the number's own text.
    cents = money_from_double(v->GetDouble());
  }
  if (!cents) {
    add_error(key, "must be an amount like \"25.00\" (at most two decimals)");
    return std::nullopt;
  }
  if (positive && *cents <= 0) {
    add_error(key, "must be greater than 0");
    return std::nullopt;
  }
  if (*cents > kMaxMoneyCents) {
    add_error(key, "is larger than the accepted maximum of 1000000000.00");
    return std::nullopt;
  }
  return cents;
}

std::string FieldReader::currency(std::string_view key, std::string fallback) {
  auto code = string(key, false, 3);
  if (!code) return fallback;
  if (!is_currency_code(*code)) add_error(key, "must be an ISO 4217 currency code like EUR");
  return *code;
}

std::optional<std::string> FieldReader::date(std::string_view key, bool required) {
  auto s = string(key, required, 32);
  if (!s) return std::nullopt;
  if (!is_valid_date(*s)) {
    add_error(key, "must be a calendar date YYYY-MM-DD between 1900-01-01 and 2199-12-31");
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> FieldReader::instant(std::string_view key, bool required) {
  auto s = string(key, required, 64);
  if (!s) return std::nullopt;
  auto norm = normalize_instant(*s);
  if (!norm) {
    add_error(key, "must be an RFC 3339 timestamp like 2026-11-24T10:00:00Z");
    return std::nullopt;
  }
  return norm;
}

std::optional<std::vector<std::string>> FieldReader::string_list(std::string_view key,
                                                                 bool required,
                                                                 std::size_t max_items) {
  const JsonValue* v = find(key, required);
  if (!v) return std::nullopt;
  if (!v->IsArray()) {
    add_error(key, std::string("must be an array of strings, not ") + type_name(*v));
    return std::nullopt;
  }
  if (v->Size() > max_items) {
    add_error(key, "must have at most " + std::to_string(max_items) + " items");
    return std::nullopt;
  }
  std::vector<std::string> out;
  for (const auto& item : v->GetArray()) {
    if (!item.IsString() || item.GetStringLength() == 0 || item.GetStringLength() > 256) {
      add_error(key, "must contain only non-empty strings of at most 256 bytes");
      return std::nullopt;
    }
    std::string s(item.GetString(), item.GetStringLength());
    if (s.find('\0') != std::string::npos) {
      add_error(key, "must not contain NUL characters");
      return std::nullopt;
    }
    out.push_back(std::move(s));
  }
  return out;
}

const JsonValue* FieldReader::object(std::string_view key, bool required) {
  const JsonValue* v = find(key, required);
  if (!v) return nullptr;
  if (!v->IsObject()) {
    add_error(key, std::string("must be an object, not ") + type_name(*v));
    return nullptr;
  }
  return v;
}

void FieldReader::throw_if_errors(std::string_view detail) const {
  if (!errors_.empty()) throw unprocessable(std::string(detail), errors_);
}

struct JsonWriter::Impl {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer{buffer};
};

JsonWriter::JsonWriter() : impl_(std::make_unique<Impl>()) {}
JsonWriter::~JsonWriter() = default;

JsonWriter& JsonWriter::begin_object() {
  impl_->writer.StartObject();
  return *this;
}
JsonWriter& JsonWriter::end_object() {
  impl_->writer.EndObject();
  return *this;
}
JsonWriter& JsonWriter::begin_array() {
  impl_->writer.StartArray();
  return *this;
}
JsonWriter& JsonWriter::end_array() {
  impl_->writer.EndArray();
  return *this;
}
// Keys and strings that are not valid UTF-8 (a handler echoing a piece of a client's input)
// are written with U+FFFD for each bad byte: the response must still go out, and be valid.
JsonWriter& JsonWriter::key(std::string_view k) {
  if (!is_valid_utf8(k)) {
    const std::string valid = replace_invalid_utf8(k);
    impl_->writer.Key(valid.data(), static_cast<rapidjson::SizeType>(valid.size()), true);
    return *this;
  }
  impl_->writer.Key(k.data(), static_cast<rapidjson::SizeType>(k.size()));
  return *this;
}
JsonWriter& JsonWriter::value(std::string_view v) {
  if (!is_valid_utf8(v)) {
    const std::string valid = replace_invalid_utf8(v);
    impl_->writer.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()), true);
    return *this;
  }
  impl_->writer.String(v.data(), static_cast<rapidjson::SizeType>(v.size()));
  return *this;
}
JsonWriter& JsonWriter::value(std::int64_t v) {
  impl_->writer.Int64(v);
  return *this;
}
JsonWriter& JsonWriter::value(bool v) {
  impl_->writer.Bool(v);
  return *this;
}
JsonWriter& JsonWriter::value(double v) {
  impl_->writer.Double(v);
  return *this;
}
JsonWriter& JsonWriter::value(const std::vector<std::string>& v) {
  begin_array();
  for (const auto& s : v) value(s);
  return end_array();
}
JsonWriter& JsonWriter::null() {
  impl_->writer.Null();
  return *this;
}
JsonWriter& JsonWriter::raw(std::string_view json) {
  impl_->writer.RawValue(json.data(), json.size(), rapidjson::kObjectType);
  return *this;
}
JsonWriter& JsonWriter::value(const JsonValue& v) {
  v.Accept(impl_->writer);
  return *this;
}
std::string JsonWriter::take() {
  std::string out(impl_->buffer.GetString(), impl_->buffer.GetSize());
  impl_->buffer.Clear();
  impl_->writer.Reset(impl_->buffer);
  return out;
}

}  // namespace gabe
