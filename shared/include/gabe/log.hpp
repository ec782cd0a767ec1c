// JSON-lines logging on stderr. Callers pass ids, counts and durations, never personal data:
// there is no field type for free text from requests.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace gabe::log {

enum class Level { debug = 0, info = 1, warn = 2, error = 3 };

// Names the service and sets the level from its name (debug, info, warn or error; the
// settings table has checked it).
void init(std::string_view service, std::string_view level);

// One field of a log line, already JSON-encoded.
class Field {
 public:
  Field(std::string_view key, std::string_view value);
  Field(std::string_view key, const char* value) : Field(key, std::string_view(value)) {}
  Field(std::string_view key, const std::string& value) : Field(key, std::string_view(value)) {}
  Field(std::string_view key, std::int64_t value);
  Field(std::string_view key, int value) : Field(key, static_cast<std::int64_t>(value)) {}
  Field(std::string_view key, std::uint64_t value) : Field(key, static_cast<std::int64_t>(value)) {}
  Field(std::string_view key, double value);
  Field(std::string_view key, bool value);
  const std::string& json() const { return json_; }

 private:
  std::string json_;  // "key":value
};

void write(Level level, std::string_view message, std::initializer_list<Field> fields = {});
inline void debug(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::debug, m, f);
}
inline void info(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::info, m, f);
}
inline void warn(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::warn, m, f);
}
inline void error(std::string_view m, std::initializer_list<Field> f = {}) {
  write(Level::error, m, f);
}

}  // namespace gabe::log
