// RFC 4180 CSV: fields separated by commas, lines ended by CRLF, a field quoted when it holds a
// comma, a quote, CR or LF (quotes doubled inside).
#pragma once

#include <string>
#include <string_view>

namespace gabe::segments {

void append_csv_field(std::string& out, std::string_view field);

}  // namespace gabe::segments
