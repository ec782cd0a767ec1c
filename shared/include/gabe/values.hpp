// Exact values from outside: money in integer cents, calendar dates and RFC 3339 instants.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gabe {

// 1,000,000,000.00: larger amounts are taken as input errors, not donations.
inline constexpr std::int64_t kMaxMoneyCents = 100'000'000'000;

// "19.99" -> 1999, "20" -> 2000, "0.5" -> 50, "-3.10" -> -310. Nothing else: no exponent, no
// thousands separators, at most two decimals, at most 12 integer digits.
std::optional<std::int64_t> parse_money(std::string_view text);
// A JSON number: accepted only when it has at most two decimals (19.99 yes, 19.999 no).
std::optional<std::int64_t> money_from_double(double value);
// 1999 -> "19.99", -5 -> "-0.05".
std::string format_money(std::int64_t cents);

// An ISO 4217 code of a currency in use (EUR, CHF, USD, …) or of one that the euro replaced
// (DEM, ATS, HRK, …), so that old gifts in an association's history still import. Codes for
// metals, testing and "no currency" (XAU, XTS, XXX) are not money.
bool is_currency_code(std::string_view code);

// YYYY-MM-DD that names a real day from 1900-01-01 to 2199-12-31.
bool is_valid_date(std::string_view text);

// Days since 1970-01-01 of a civil date (proleptic Gregorian).
std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d);

struct Instant {
  std::int64_t epoch_seconds;
  std::int32_t micros;
};
// An RFC 3339 date-time with offset; nullopt when malformed or out of range.
std::optional<Instant> parse_instant(std::string_view text);
// The instant as UTC text "YYYY-MM-DDTHH:MM:SS[.ffffff]Z".
std::string format_instant(Instant instant);
std::optional<std::string> normalize_instant(std::string_view text);

// The current time, in whole seconds.
std::int64_t now_epoch_seconds();
std::string now_instant();

}  // namespace gabe
