#include "gabe/config.hpp"

#include <cstdlib>
#include <string_view>

namespace gabe::config {

namespace {

const char* lookup(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
}

}  // namespace

std::string required(const char* name) {
  const char* v = lookup(name);
  if (!v) throw ConfigError(std::string(name) + " is not set");
  return v;
}

std::string get(const char* name, const std::string& fallback) {
  const char* v = lookup(name);
  return v ? v : fallback;
}

long get_int(const char* name, long fallback, long min, long max) {
  const char* v = lookup(name);
  if (!v) return fallback;
  char* end = nullptr;
  errno = 0;
  long n = std::strtol(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || n < min || n > max) {
    throw ConfigError(std::string(name) + "=" + v + " is not a whole number from " +
                      std::to_string(min) + " to " + std::to_string(max));
  }
  return n;
}

bool get_bool(const char* name, bool fallback) {
  const char* v = lookup(name);
  if (!v) return fallback;
  std::string_view s(v);
  if (s == "1" || s == "true" || s == "yes") return true;
  if (s == "0" || s == "false" || s == "no") return false;
  throw ConfigError(std::string(name) + "=" + v + " is not a boolean (true/false)");
}

Endpoint parse_endpoint(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size()) {
    throw ConfigError("expected host:port, got '" + text + "'");
  }
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  std::string port_text = text.substr(colon + 1);
  char* end = nullptr;
  long port = std::strtol(port_text.c_str(), &end, 10);
  if (*end != '\0' || port < 0 || port > 65535) throw ConfigError("bad port in '" + text + "'");
  return {host, static_cast<std::uint16_t>(port)};
}

Endpoint listen(const char* name, const Endpoint& fallback) {
  const char* v = lookup(name);
  if (!v) return fallback;
  try {
    return parse_endpoint(v);
  } catch (const ConfigError& e) {
    throw ConfigError(std::string(name) + ": " + e.what());
  }
}

}  // namespace gabe::config
