#include "gabe/values.hpp"

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>

namespace gabe {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

// Reads exactly n digits at pos.
std::optional<int> digits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return std::nullopt;
  int v = 0;
  for (std::size_t i = 0; i < n; ++i) {
    if (!is_digit(s[pos + i])) return std::nullopt;
    v = v * 10 + (s[pos + i] - '0');
  }
  return v;
}

unsigned days_in_month(int y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : kDays[m - 1];
}

bool valid_ymd(int y, int m, int d) {
  return y >= 1900 && y <= 2199 && m >= 1 && m <= 12 && d >= 1 &&
         static_cast<unsigned>(d) <= days_in_month(y, static_cast<unsigned>(m));
}

}  // namespace

std::optional<std::int64_t> parse_money(std::string_view s) {
  bool negative = false;
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) {
    negative = s[0] == '-';
    s.remove_prefix(1);
  }
  auto dot = s.find('.');
  std::string_view whole = s.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view{} : s.substr(dot + 1);
  if (whole.empty() || whole.size() > 12) return std::nullopt;
  if (dot != std::string_view::npos && (frac.empty() || frac.size() > 2)) return std::nullopt;
  std::int64_t cents = 0;
  for (char c : whole) {
    if (!is_digit(c)) return std::nullopt;
    cents = cents * 10 + (c - '0');
  }
  cents *= 100;
  if (!frac.empty()) {
    for (char c : frac) {
      if (!is_digit(c)) return std::nullopt;
    }
    cents += (frac[0] - '0') * 10 + (frac.size() == 2 ? frac[1] - '0' : 0);
  }
  return negative ? -cents : cents;
}

std::optional<std::int64_t> money_from_double(double value) {
  if (!std::isfinite(value) || std::fabs(value) >= 1e13) return std::nullopt;
  // The shortest text that reads back as the same double: "12345.678" stays "12345.678" and
  // is refused, where scaling by 100 and rounding would have made it 1234568 cents.
  char text[64];
  auto written = std::to_chars(text, text + sizeof text, value, std::chars_format::fixed);
  if (written.ec != std::errc{}) return std::nullopt;
  return parse_money(std::string_view(text, static_cast<std::size_t>(written.ptr - text)));
}

bool is_currency_code(std::string_view code) {
  // ISO 4217 list one (current codes, 2025) less the X codes that are not money, plus the
  // codes that the euro replaced and recently withdrawn codes that historic gifts may carry.
  static constexpr std::string_view kCodes =
      "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BOV BRL BSD "
      "BTN BWP BYN BZD CAD CDF CHE CHF CHW CLF CLP CNY COP COU CRC CUC CUP CVE CZK DJF DKK DOP "
      "DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR "
      "IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD "
      "MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB "
      "PEN PGK PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD "
      "SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD USN UYI UYU UYW UZS "
      "VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL "
      "ATS BEF CYP DEM EEK ESP FIM FRF GRD HRK IEP ITL LTL LUF LVL MTL NLG PTE SIT SKK";
  if (code.size() != 3) return false;
  for (std::size_t i = 0; i + 3 <= kCodes.size(); i += 4) {
    if (kCodes.substr(i, 3) == code) return true;
  }
  return false;
}

std::string format_money(std::int64_t cents) {
  bool negative = cents < 0;
  std::uint64_t abs =
      negative ? static_cast<std::uint64_t>(-(cents + 1)) + 1 : static_cast<std::uint64_t>(cents);
  char buf[32];
  std::snprintf(buf, sizeof buf, "%s%llu.%02llu", negative ? "-" : "",
                static_cast<unsigned long long>(abs / 100),
                static_cast<unsigned long long>(abs % 100));
  return buf;
}

bool is_valid_date(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  auto y = digits(s, 0, 4);
  auto m = digits(s, 5, 2);
  auto d = digits(s, 8, 2);
  return y && m && d && valid_ymd(*y, *m, *d);
}

std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

std::optional<Instant> parse_instant(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.f+](Z|±HH:MM)
  if (s.size() < 20 || !is_valid_date(s.substr(0, 10))) return std::nullopt;
  if (s[10] != 'T' && s[10] != 't' && s[10] != ' ') return std::nullopt;
  auto hh = digits(s, 11, 2);
  auto mi = digits(s, 14, 2);
  auto ss = digits(s, 17, 2);
  if (!hh || !mi || !ss || s[13] != ':' || s[16] != ':' || *hh > 23 || *mi > 59 || *ss > 60) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int32_t micros = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    std::size_t start = pos;
    int scale = 100000;
    while (pos < s.size() && is_digit(s[pos])) {
      if (scale > 0) {
        micros += (s[pos] - '0') * scale;
        scale /= 10;
      }
      ++pos;
    }
    if (pos == start || pos - start > 9) return std::nullopt;
  }
  if (pos >= s.size()) return std::nullopt;
  std::int64_t offset = 0;
  if (s[pos] == 'Z' || s[pos] == 'z') {
    ++pos;
  } else if (s[pos] == '+' || s[pos] == '-') {
    auto oh = digits(s, pos + 1, 2);
    auto om = digits(s, pos + 4, 2);
    if (!oh || !om || pos + 3 >= s.size() || s[pos + 3] != ':' || *oh > 23 || *om > 59) {
      return std::nullopt;
    }
    offset = (std::int64_t{*oh} * 3600 + std::int64_t{*om} * 60) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  int y = *digits(s, 0, 4);
  int m = *digits(s, 5, 2);
  int d = *digits(s, 8, 2);
  std::int64_t secs =
      days_from_civil(y, static_cast<unsigned>(m), static_cast<unsigned>(d)) * 86400 +
      std::int64_t{*hh} * 3600 + std::int64_t{*mi} * 60 + std::min(*ss, 59) - offset;
  return Instant{secs, micros};
}

std::string format_instant(Instant t) {
  std::int64_t days =
      t.epoch_seconds >= 0 ? t.epoch_seconds / 86400 : (t.epoch_seconds - 86399) / 86400;
  std::int64_t rem = t.epoch_seconds - days * 86400;
  // civil_from_days
  std::int64_t z = days + 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += m <= 2;
  char buf[96];
  if (t.micros > 0) {
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lld.%06dZ",
                  static_cast<long long>(y), m, d, static_cast<long long>(rem / 3600),
                  static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60),
                  t.micros);
  } else {
    std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02lld:%02lld:%02lldZ",
                  static_cast<long long>(y), m, d, static_cast<long long>(rem / 3600),
                  static_cast<long long>(rem / 60 % 60), static_cast<long long>(rem % 60));
  }
  return buf;
}

std::optional<std::string> normalize_instant(std::string_view text) {
  auto t = parse_instant(text);
  if (!t) return std::nullopt;
  return format_instant(*t);
}

std::int64_t now_epoch_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string now_instant() {
  return format_instant({now_epoch_seconds(), 0});
}

}  // namespace gabe
