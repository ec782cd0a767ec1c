// UTF-8 helpers (gabe/text.hpp): cutting a client's text for an error message, and making any
// text valid for a response.
#include "gabe/text.hpp"

#include <gtest/gtest.h>

#include <string>

namespace gabe {
namespace {

TEST(Utf8Prefix, NeverCutsInsideACharacter) {
  const std::string text = "D\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80x";  // D ü € 😀 x
  EXPECT_EQ(utf8_prefix(text, 100), text);
  EXPECT_EQ(utf8_prefix(text, text.size()), text);
  EXPECT_EQ(utf8_prefix(text, 0), "");
  EXPECT_EQ(utf8_prefix(text, 1), "D");
  EXPECT_EQ(utf8_prefix(text, 2), "D");
  EXPECT_EQ(utf8_prefix(text, 3), "D\xc3\xbc");
  EXPECT_EQ(utf8_prefix(text, 4), "D\xc3\xbc");
  EXPECT_EQ(utf8_prefix(text, 5), "D\xc3\xbc");
  EXPECT_EQ(utf8_prefix(text, 6), "D\xc3\xbc\xe2\x82\xac");
  EXPECT_EQ(utf8_prefix(text, 9), "D\xc3\xbc\xe2\x82\xac");
  EXPECT_EQ(utf8_prefix(text, 10), "D\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80");
  for (std::size_t max = 0; max <= text.size(); ++max) {
    EXPECT_TRUE(is_valid_utf8(utf8_prefix(text, max))) << max;
    EXPECT_LE(utf8_prefix(text, max).size(), max);
  }
}

TEST(Utf8Prefix, IsSafeOnInvalidInput) {
  // Bytes that start no valid sequence count one each; a valid sequence is still kept whole.
  EXPECT_EQ(utf8_prefix("\x80\x80\x80\x80", 2), "\x80\x80");
  EXPECT_EQ(utf8_prefix("\xc3\xa9\x80\x80\x80", 4), "\xc3\xa9\x80\x80");
  EXPECT_EQ(utf8_prefix("\xff\xe2\x82\xac", 3), "\xff");
  EXPECT_EQ(utf8_prefix("ab\xe2\x82", 3), "ab\xe2");  // a cut sequence is bytes, not a character
  EXPECT_EQ(utf8_prefix("\xf0\x9f\x98", 2), "\xf0\x9f");
  EXPECT_EQ(utf8_prefix(std::string_view("a\0b", 3), 2), std::string_view("a\0", 2));
  // Never more than max bytes, never past the end, whatever the bytes.
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  for (std::size_t max = 0; max <= all.size() + 1; ++max)
    EXPECT_LE(utf8_prefix(all, max).size(), max);
}

TEST(ReplaceInvalidUtf8, ReplacesEachBadByteWithU_FFFD) {
  const std::string r = "\xef\xbf\xbd";
  EXPECT_EQ(replace_invalid_utf8(""), "");
  EXPECT_EQ(replace_invalid_utf8("D\xc3\xbcren \xe2\x82\xac"), "D\xc3\xbcren \xe2\x82\xac");
  EXPECT_EQ(replace_invalid_utf8("ab\xe2\x82"), "ab" + r + r);         // cut at the end
  EXPECT_EQ(replace_invalid_utf8("\xe2\x82x"), r + r + "x");           // cut in the middle
  EXPECT_EQ(replace_invalid_utf8("\xc0\xaf"), r + r);                  // overlong '/'
  EXPECT_EQ(replace_invalid_utf8("\xe0\x80\xaf"), r + r + r);          // overlong, 3 bytes
  EXPECT_EQ(replace_invalid_utf8("\xed\xa0\x80"), r + r + r);          // surrogate U+D800
  EXPECT_EQ(replace_invalid_utf8("\xed\xb0\x80"), r + r + r);          // surrogate U+DC00
  EXPECT_EQ(replace_invalid_utf8("\xf4\x90\x80\x80"), r + r + r + r);  // above U+10FFFF
  EXPECT_EQ(replace_invalid_utf8("a\x80"
                                 "b\xbf"),
            "a" + r + "b" + r);  // lone continuations
  EXPECT_EQ(replace_invalid_utf8("\xff\xfe"), r + r);
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  EXPECT_TRUE(is_valid_utf8(replace_invalid_utf8(all)));
  EXPECT_EQ(replace_invalid_utf8(all).substr(0, 128), all.substr(0, 128));
}

}  // namespace
}  // namespace gabe
