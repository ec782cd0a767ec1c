#include "gabe/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "gabe/config.hpp"
#include "gabe/json.hpp"

namespace gabe::log {

namespace {

std::atomic<int> g_level{static_cast<int>(Level::info)};
std::string g_service = "gabe";
std::mutex g_mutex;

const char* level_name(Level l) {
  switch (l) {
    case Level::debug:
      return "debug";
    case Level::info:
      return "info";
    case Level::warn:
      return "warn";
    case Level::error:
      return "error";
  }
  return "info";
}

std::string quoted(std::string_view s) {
  JsonWriter w;
  w.value(s);
  return w.take();
}

void set_level(Level level) {
  g_level.store(static_cast<int>(level));
}
bool enabled(Level level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

}  // namespace

void init(std::string_view service, std::string_view level) {
  g_service = std::string(service);
  const std::string v(level);
  if (v == "debug")
    set_level(Level::debug);
  else if (v == "info")
    set_level(Level::info);
  else if (v == "warn")
    set_level(Level::warn);
  else if (v == "error")
    set_level(Level::error);
  else
    throw ConfigError("GABE_LOG_LEVEL=" + v + " is not one of debug, info, warn, error");
}

Field::Field(std::string_view key, std::string_view value)
    : json_(quoted(key) + ":" + quoted(value)) {}
Field::Field(std::string_view key, std::int64_t value)
    : json_(quoted(key) + ":" + std::to_string(value)) {}
Field::Field(std::string_view key, double value) {
  JsonWriter w;
  w.value(value);
  json_ = quoted(key) + ":" + w.take();
}
Field::Field(std::string_view key, bool value)
    : json_(quoted(key) + ":" + (value ? "true" : "false")) {}

void write(Level level, std::string_view message, std::initializer_list<Field> fields) {
  if (!enabled(level)) return;
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  std::string line = "{\"ts\":\"";
  line += ts;
  line += "\",\"level\":\"";
  line += level_name(level);
  line += "\",\"service\":";
  line += quoted(g_service);
  line += ",\"msg\":";
  line += quoted(message);
  for (const auto& f : fields) {
    line += ',';
    line += f.json();
  }
  line += "}\n";
  std::lock_guard lock(g_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace gabe::log
