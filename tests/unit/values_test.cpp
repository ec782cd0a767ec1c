#include "gabe/values.hpp"

#include <gtest/gtest.h>

namespace gabe {
namespace {

TEST(Money, ParsesExactDecimalStrings) {
  EXPECT_EQ(parse_money("19.99"), 1999);
  EXPECT_EQ(parse_money("20"), 2000);
  EXPECT_EQ(parse_money("0.5"), 50);
  EXPECT_EQ(parse_money("0.05"), 5);
  EXPECT_EQ(parse_money("-3.10"), -310);
  EXPECT_EQ(parse_money("999999999999.99"), 99999999999999);
}

TEST(Money, RejectsAnythingElse) {
  for (const char* bad : {"", ".", "1.", ".5", "1.999", "1e3", "1,00", "1 000", "abc", "--1",
                          "0x10", "12.3a", "1234567890123"}) {
    EXPECT_FALSE(parse_money(bad).has_value()) << bad;
  }
}

TEST(Money, AcceptsJsonNumbersWithAtMostTwoDecimals) {
  EXPECT_EQ(money_from_double(19.99), 1999);
  EXPECT_EQ(money_from_double(0.1), 10);
  EXPECT_EQ(money_from_double(25), 2500);
  EXPECT_FALSE(money_from_double(19.999).has_value());
  EXPECT_FALSE(money_from_double(1e300).has_value());
}

TEST(Money, RefusesJsonNumbersWithMoreDecimalsAtAnySize) {
  // Scaling by 100 and rounding took these as 1234568 and 100000 cents.
  EXPECT_FALSE(money_from_double(12345.678).has_value());
  EXPECT_FALSE(money_from_double(1000.001).has_value());
  EXPECT_FALSE(money_from_double(999999999.999).has_value());
  EXPECT_FALSE(money_from_double(0.001).has_value());
  EXPECT_EQ(money_from_double(12345.67), 1234567);
  EXPECT_EQ(money_from_double(999999999.99), 99999999999);
  EXPECT_EQ(money_from_double(-1000.5), -100050);
}

TEST(Currency, OnlyIso4217CodesOfMoney) {
  for (const char* code : {"EUR", "CHF", "USD", "GBP", "PLN", "JPY", "DEM", "HRK", "AED", "ZWG"}) {
    EXPECT_TRUE(is_currency_code(code)) << code;
  }
  for (const char* code : {"ABC", "QQQ", "XXX", "XAU", "XTS", "eur", "EU", "EURO", "", "EU "}) {
    EXPECT_FALSE(is_currency_code(code)) << code;
  }
}

TEST(Money, FormatsCents) {
  EXPECT_EQ(format_money(1999), "19.99");
  EXPECT_EQ(format_money(5), "0.05");
  EXPECT_EQ(format_money(-5), "-0.05");
  EXPECT_EQ(format_money(0), "0.00");
}

TEST(Dates, AcceptOnlyRealDays) {
  EXPECT_TRUE(is_valid_date("2026-11-24"));
  EXPECT_TRUE(is_valid_date("2024-02-29"));
  EXPECT_FALSE(is_valid_date("2023-02-29"));
  EXPECT_FALSE(is_valid_date("0000-00-00"));
  EXPECT_FALSE(is_valid_date("2026-13-01"));
  EXPECT_FALSE(is_valid_date("2026-1-01"));
  EXPECT_FALSE(is_valid_date("1899-12-31"));
  EXPECT_FALSE(is_valid_date("2026-11-24T00:00:00Z"));
}

TEST(Instants, NormaliseToUtc) {
  EXPECT_EQ(normalize_instant("2026-11-24T10:00:00Z"), "2026-11-24T10:00:00Z");
  EXPECT_EQ(normalize_instant("2026-11-24T11:30:00+01:00"), "2026-11-24T10:30:00Z");
  EXPECT_EQ(normalize_instant("2026-01-01T00:30:00+02:00"), "2025-12-31T22:30:00Z");
  EXPECT_EQ(normalize_instant("2026-11-24T10:00:00.5Z"), "2026-11-24T10:00:00.500000Z");
  EXPECT_FALSE(normalize_instant("2026-11-24").has_value());
  EXPECT_FALSE(normalize_instant("2026-11-24T25:00:00Z").has_value());
  EXPECT_FALSE(normalize_instant("2026-11-24T10:00:00").has_value());
  EXPECT_FALSE(normalize_instant("0000-00-00T00:00:00Z").has_value());
}

TEST(Instants, EpochSeconds) {
  EXPECT_EQ(parse_instant("1970-01-01T00:00:00Z")->epoch_seconds, 0);
  EXPECT_EQ(parse_instant("2026-11-24T10:00:00Z")->epoch_seconds, 1795514400);
}

}  // namespace
}  // namespace gabe
