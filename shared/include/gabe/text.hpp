// Text from outside is checked once, where it enters: valid UTF-8 as RFC 3629 defines it (no
// overlong forms, no UTF-16 surrogates, nothing above U+10FFFF). PostgreSQL refuses anything
// else, so text that passes here can never turn into a database error later.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace gabe {

bool is_valid_utf8(std::string_view text);

// Valid UTF-8 without NUL (which PostgreSQL's text type cannot hold and C APIs cut at).
inline bool is_valid_text(std::string_view text) {
  return text.find('\0') == std::string_view::npos && is_valid_utf8(text);
}

// Valid UTF-8 without control characters other than horizontal tab: a header value that a
// handler may read as text (webhook-id, authorization, accept-language).
bool is_header_text(std::string_view text);

// At most `max` bytes of `text`, never cut inside a UTF-8 sequence: for echoing a client's
// names (a key, a path segment) in an error message. Whole valid sequences are kept; a byte
// that starts none (invalid input) counts as one unit of its own, so the cut is always safe.
std::string_view utf8_prefix(std::string_view text, std::size_t max);

// `text` with every byte that is not part of a valid UTF-8 sequence replaced by U+FFFD: what
// a response may carry of text that was never checked.
std::string replace_invalid_utf8(std::string_view text);

}  // namespace gabe
