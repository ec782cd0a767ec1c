// Configuration from GABE_* environment variables, driven by a table of settings (name,
// default, range or allowed values, help): the same table parses the environment, writes
// --help and is checked against the docs, so a default lives in one place. A bad or missing
// setting throws ConfigError whose message names the variable; main() prints it as one line
// and exits 2.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace gabe {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
};

namespace config {

// The variable's value; throws ConfigError when it is unset or empty.
std::string required(const char* name);

struct Setting {
  enum class Kind { text, integer, choice, endpoint };
  std::string name;  // GABE_...
  Kind kind = Kind::text;
  std::string default_value;  // as it would be written in the environment; empty: required
  long min = 0;               // integer: allowed range
  long max = 0;
  std::vector<std::string> choices;  // choice: allowed values
  std::string help;                  // one line, for --help and the docs

  bool is_required() const { return default_value.empty(); }
  // What the value may be, e.g. "1-512" or "debug, info, warn or error"; empty for text.
  std::string allowed() const;
};
using SettingsTable = std::vector<Setting>;

Setting text_setting(std::string name, std::string default_value, std::string help);
Setting integer_setting(std::string name, long default_value, long min, long max, std::string help);
Setting choice_setting(std::string name, std::string default_value,
                       std::vector<std::string> choices, std::string help);
// host:port or [v6]:port.
Setting endpoint_setting(std::string name, std::string default_value, std::string help);

// The values of one table, read from the environment at start (an empty variable counts as
// unset). Asking for a name that is not in the table is a programming error (logic_error).
class Settings {
 public:
  // Reads and checks every setting; throws ConfigError naming the first bad or missing one.
  static Settings from_env(SettingsTable table);

  const std::string& text(std::string_view name) const;  // text and choice settings
  long integer(std::string_view name) const;
  Endpoint endpoint(std::string_view name) const;

 private:
  std::size_t index(std::string_view name, Setting::Kind kind) const;
  SettingsTable table_;
  std::vector<std::string> values_;
};

// The "Environment" part of --help: one line per setting with what it may be and its default.
std::string help_text(const SettingsTable& table);

}  // namespace config
}  // namespace gabe
