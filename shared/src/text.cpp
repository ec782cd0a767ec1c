#include "gabe/text.hpp"

#include <algorithm>

namespace gabe {

namespace {

// The length of the valid UTF-8 sequence that starts at `p`, or 0 when none does.
std::size_t sequence_length(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = *p;
  if (c < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80;  // allowed range of the second byte
  unsigned char high = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    length = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    length = 3;
    if (c == 0xE0) low = 0xA0;   // overlong
    if (c == 0xED) high = 0x9F;  // U+D800..U+DFFF, the surrogates
  } else if (c >= 0xF0 && c <= 0xF4) {
    length = 4;
    if (c == 0xF0) low = 0x90;   // overlong
    if (c == 0xF4) high = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  if (static_cast<std::size_t>(end - p) < length) return 0;
  if (p[1] < low || p[1] > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  }
  return length;
}

const unsigned char* bytes(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  const auto* p = bytes(text);
  const auto* end = p + text.size();
  while (p < end) {
    const std::size_t length = sequence_length(p, end);
    if (length == 0) return false;
    p += length;
  }
  return true;
}

std::string_view utf8_prefix(std::string_view text, std::size_t max) {
  if (text.size() <= max) return text;
  const auto* begin = bytes(text);
  const auto* end = begin + text.size();
  std::size_t cut = 0;
  while (cut < max) {
    const std::size_t length = std::max<std::size_t>(sequence_length(begin + cut, end), 1);
    if (cut + length > max) break;
    cut += length;
  }
  return text.substr(0, cut);
}

std::string replace_invalid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 8);
  const auto* begin = bytes(text);
  const auto* end = begin + text.size();
  for (const auto* p = begin; p < end;) {
    const std::size_t length = sequence_length(p, end);
    if (length == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++p;
    } else {
      out.append(reinterpret_cast<const char*>(p), length);
      p += length;
    }
  }
  return out;
}

bool is_header_text(std::string_view text) {
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7F) return false;
  }
  return is_valid_utf8(text);
}

}  // namespace gabe
