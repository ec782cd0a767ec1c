// Text checks at the edge: what a client sends as text (path segments, query values, header
// values) is checked once, where the request is read, so that handlers and SQL only ever see
// valid UTF-8 (PostgreSQL refuses anything else, which would surface as a 500).
#pragma once

#include <string_view>

namespace gabe {

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, nothing above U+10FFFF.
bool is_valid_utf8(std::string_view text);

// Valid UTF-8 without NUL: what a percent-decoded path segment or query value must be.
bool is_text_value(std::string_view text);

// Valid UTF-8 without control characters other than horizontal tab: a header value.
bool is_header_text(std::string_view text);

}  // namespace gabe
