// The settings tables: parsing from the environment, --help, and the docs that list them.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

#include "gabe/config.hpp"
#include "gabe/service.hpp"
#include "settings.hpp"

namespace gabe {
namespace {

using config::Settings;

std::string message_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

config::SettingsTable table() {
  return {
      config::text_setting("GABE_TEST_URL", "", "a required value"),
      config::integer_setting("GABE_TEST_N", 7, 0, 100, "a number"),
      config::choice_setting("GABE_TEST_LEVEL", "info", {"debug", "info"}, "a choice"),
      config::endpoint_setting("GABE_TEST_LISTEN", "127.0.0.1:8081", "an address"),
  };
}

class SettingsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* n : {"GABE_TEST_URL", "GABE_TEST_N", "GABE_TEST_LEVEL", "GABE_TEST_LISTEN"})
      unsetenv(n);
    setenv("GABE_TEST_URL", "postgresql:///x", 1);
  }
};

TEST_F(SettingsTest, DefaultsComeFromTheTable) {
  auto s = Settings::from_env(table());
  EXPECT_EQ(s.text("GABE_TEST_URL"), "postgresql:///x");
  EXPECT_EQ(s.integer("GABE_TEST_N"), 7);
  EXPECT_EQ(s.text("GABE_TEST_LEVEL"), "info");
  EXPECT_EQ(s.endpoint("GABE_TEST_LISTEN").port, 8081);
}

TEST_F(SettingsTest, EnvironmentOverridesAndEmptyCountsAsUnset) {
  setenv("GABE_TEST_N", "42", 1);
  setenv("GABE_TEST_LEVEL", "debug", 1);
  setenv("GABE_TEST_LISTEN", "[::1]:9000", 1);
  auto s = Settings::from_env(table());
  EXPECT_EQ(s.integer("GABE_TEST_N"), 42);
  EXPECT_EQ(s.text("GABE_TEST_LEVEL"), "debug");
  EXPECT_EQ(s.endpoint("GABE_TEST_LISTEN").host, "::1");
  EXPECT_EQ(s.endpoint("GABE_TEST_LISTEN").port, 9000);
  setenv("GABE_TEST_N", "", 1);
  EXPECT_EQ(Settings::from_env(table()).integer("GABE_TEST_N"), 7);
}

TEST_F(SettingsTest, BadValuesNameTheVariable) {
  unsetenv("GABE_TEST_URL");
  EXPECT_EQ(message_of([] { Settings::from_env(table()); }), "GABE_TEST_URL is not set");
  setenv("GABE_TEST_URL", "x", 1);
  setenv("GABE_TEST_N", "12x", 1);
  EXPECT_EQ(message_of([] { Settings::from_env(table()); }),
            "GABE_TEST_N=12x is not a whole number from 0 to 100");
  setenv("GABE_TEST_N", "101", 1);
  EXPECT_NE(message_of([] { Settings::from_env(table()); }), "");
  unsetenv("GABE_TEST_N");
  setenv("GABE_TEST_LEVEL", "loud", 1);
  EXPECT_EQ(message_of([] { Settings::from_env(table()); }),
            "GABE_TEST_LEVEL=loud is not one of debug or info");
  unsetenv("GABE_TEST_LEVEL");
  setenv("GABE_TEST_LISTEN", "nonsense", 1);
  EXPECT_NE(message_of([] { Settings::from_env(table()); }).find("GABE_TEST_LISTEN"),
            std::string::npos);
}

TEST_F(SettingsTest, ReadingANameOutsideTheTableIsAProgrammingError) {
  auto s = Settings::from_env(table());
  EXPECT_THROW(s.integer("GABE_TEST_OTHER"), std::logic_error);
  EXPECT_THROW(s.integer("GABE_TEST_LEVEL"), std::logic_error);
}

TEST(Settings, CommonDefaultsAreTheDocumentedOnes) {
  setenv("GABE_DATABASE_URL", "postgresql:///x", 1);
  for (const auto& s : common_settings(8081)) {
    if (s.name != "GABE_DATABASE_URL") unsetenv(s.name.c_str());
  }
  auto s = Settings::from_env(common_settings(8081));
  EXPECT_EQ(s.integer("GABE_HTTP_WORKERS"), 64);
  EXPECT_EQ(s.endpoint("GABE_LISTEN").port, 8081);
  EXPECT_EQ(s.endpoint("GABE_LISTEN").host, "127.0.0.1");
  EXPECT_EQ(s.integer("GABE_DB_POOL_SIZE"), 16);
  // gabe-scoring's own defaults (services/scoring/main.cpp), still overridable.
  auto scoring = Settings::from_env(common_settings(8082, 8, 8));
  EXPECT_EQ(scoring.integer("GABE_HTTP_WORKERS"), 8);
  EXPECT_EQ(scoring.integer("GABE_DB_POOL_SIZE"), 8);
  setenv("GABE_DB_POOL_SIZE", "12", 1);
  EXPECT_EQ(Settings::from_env(common_settings(8082, 8, 8)).integer("GABE_DB_POOL_SIZE"), 12);
  unsetenv("GABE_DB_POOL_SIZE");
}

TEST(Settings, HelpListsEverySettingWithItsDefault) {
  auto t = common_settings(8081);
  const auto own = ingest::settings();
  t.insert(t.end(), own.begin(), own.end());
  const auto help = config::help_text(t);
  for (const auto& s : t) {
    auto at = help.find("  " + s.name + " ");
    ASSERT_NE(at, std::string::npos) << s.name;
    auto line = help.substr(at, help.find('\n', at) - at);
    if (s.is_required()) {
      EXPECT_NE(line.find("(required)"), std::string::npos) << line;
    } else {
      EXPECT_NE(line.find("default " + s.default_value + ")"), std::string::npos) << line;
    }
  }
  EXPECT_NE(help.find("GABE_HTTP_WORKERS          worker threads that run handlers (1-512; "
                      "default 64)"),
            std::string::npos);
}

// docs/architecture.md has one row per setting: | `NAME` | default | meaning with (min–max) |.
TEST(Settings, ArchitectureDocListsEverySettingWithDefaultAndRange) {
  std::ifstream in(std::string(GABE_SOURCE_DIR) + "/docs/architecture.md");
  ASSERT_TRUE(in) << "docs/architecture.md not found";
  std::stringstream doc;
  doc << in.rdbuf();
  std::map<std::string, std::vector<std::string>> rows;  // name -> cells
  std::string line;
  while (std::getline(doc, line)) {
    if (line.rfind("| `GABE_", 0) != 0) continue;
    std::vector<std::string> cells;
    std::stringstream cs(line.substr(1));
    for (std::string cell; std::getline(cs, cell, '|');) cells.push_back(cell);
    if (cells.size() < 3) continue;
    auto name = cells[0].substr(cells[0].find('`') + 1);
    rows[name.substr(0, name.find('`'))] = cells;
  }
  auto t = common_settings(8081);
  const auto own = ingest::settings();
  t.insert(t.end(), own.begin(), own.end());
  for (const auto& s : t) {
    ASSERT_TRUE(rows.count(s.name)) << s.name << " is missing from docs/architecture.md";
    const auto& cells = rows[s.name];
    if (s.is_required()) {
      EXPECT_NE(cells[1].find("(required)"), std::string::npos) << s.name;
    } else {
      std::stringstream cell(cells[1]);
      std::string first;
      cell >> first;  // the default, as in "`127.0.0.1:8081` (ingest); 8082 scoring, ..."
      first.erase(std::remove(first.begin(), first.end(), '`'), first.end());
      EXPECT_EQ(first, s.default_value) << s.name << ": the docs' default is not the table's";
    }
    if (s.kind == config::Setting::Kind::integer) {
      EXPECT_NE(cells[2].find(std::to_string(s.min) + "–" + std::to_string(s.max)),
                std::string::npos)
          << s.name << ": the docs' range is not " << s.allowed();
    }
    for (const auto& c : s.choices) EXPECT_NE(cells[2].find("`" + c + "`"), std::string::npos);
  }
}

}  // namespace
}  // namespace gabe
