// Text from outside is checked once, where it enters: valid UTF-8 as RFC 3629 defines it (no
// overlong forms, no UTF-16 surrogates, nothing above U+10FFFF). PostgreSQL refuses anything
// else, so text that passes here can never turn into a database error later.
#pragma once

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

}  // namespace gabe
