#include "gabe/config.hpp"

#include <gtest/gtest.h>

#include <cstdlib>

namespace gabe {
namespace {

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, MissingRequiredSettingNamesIt) {
  unsetenv("GABE_TEST_URL");
  EXPECT_NE(message_of([] { config::required("GABE_TEST_URL"); }).find("GABE_TEST_URL"),
            std::string::npos);
}

TEST(Config, BadNumbersNameTheVariable) {
  setenv("GABE_TEST_N", "12x", 1);
  auto m = message_of([] { config::get_int("GABE_TEST_N", 1, 0, 100); });
  EXPECT_NE(m.find("GABE_TEST_N=12x"), std::string::npos);
  setenv("GABE_TEST_N", "101", 1);
  EXPECT_FALSE(message_of([] { config::get_int("GABE_TEST_N", 1, 0, 100); }).empty());
  setenv("GABE_TEST_N", "42", 1);
  EXPECT_EQ(config::get_int("GABE_TEST_N", 1, 0, 100), 42);
}

TEST(Config, ListenAddress) {
  setenv("GABE_TEST_LISTEN", "0.0.0.0:9000", 1);
  auto e = config::listen("GABE_TEST_LISTEN", {"127.0.0.1", 1});
  EXPECT_EQ(e.host, "0.0.0.0");
  EXPECT_EQ(e.port, 9000);
  setenv("GABE_TEST_LISTEN", "nonsense", 1);
  EXPECT_NE(message_of([] {
              config::listen("GABE_TEST_LISTEN", {"127.0.0.1", 1});
            }).find("GABE_TEST_LISTEN"),
            std::string::npos);
  setenv("GABE_TEST_LISTEN", "[::1]:8081", 1);
  EXPECT_EQ(config::listen("GABE_TEST_LISTEN", {"127.0.0.1", 1}).host, "::1");
  unsetenv("GABE_TEST_LISTEN");
  EXPECT_EQ(config::listen("GABE_TEST_LISTEN", {"127.0.0.1", 8081}).port, 8081);
}

}  // namespace
}  // namespace gabe
