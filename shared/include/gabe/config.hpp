// Configuration from GABE_* environment variables. A bad or missing setting throws
// ConfigError whose message names the variable; main() prints it as one line and exits.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

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

std::string required(const char* name);
std::string get(const char* name, const std::string& fallback);
long get_int(const char* name, long fallback, long min, long max);
bool get_bool(const char* name, bool fallback);
// host:port, [v6]:port.
Endpoint parse_endpoint(const std::string& text);
Endpoint listen(const char* name, const Endpoint& fallback);

}  // namespace config
}  // namespace gabe
