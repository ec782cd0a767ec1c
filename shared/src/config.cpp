#include "gabe/config.hpp"

#include <cerrno>
#include <cstdlib>

namespace gabe::config {

namespace {

const char* lookup(const char* name) {
  const char* v = std::getenv(name);
  return v && *v ? v : nullptr;
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

// Throws ConfigError naming the setting when `value` is not one it allows.
void check(const Setting& s, const std::string& value) {
  switch (s.kind) {
    case Setting::Kind::text:
      return;
    case Setting::Kind::integer: {
      char* end = nullptr;
      errno = 0;
      long n = std::strtol(value.c_str(), &end, 10);
      if (errno != 0 || end == value.c_str() || *end != '\0' || n < s.min || n > s.max) {
        throw ConfigError(s.name + "=" + value + " is not a whole number from " +
                          std::to_string(s.min) + " to " + std::to_string(s.max));
      }
      return;
    }
    case Setting::Kind::choice:
      for (const auto& c : s.choices) {
        if (c == value) return;
      }
      throw ConfigError(s.name + "=" + value + " is not one of " + s.allowed());
    case Setting::Kind::endpoint:
      try {
        parse_endpoint(value);
      } catch (const ConfigError& e) {
        throw ConfigError(s.name + ": " + e.what());
      }
      return;
  }
}

}  // namespace

std::string required(const char* name) {
  const char* v = lookup(name);
  if (!v) throw ConfigError(std::string(name) + " is not set");
  return v;
}

std::string Setting::allowed() const {
  switch (kind) {
    case Kind::integer:
      return std::to_string(min) + "-" + std::to_string(max);
    case Kind::choice: {
      std::string out;
      for (std::size_t i = 0; i < choices.size(); ++i) {
        if (i > 0) out += i + 1 == choices.size() ? " or " : ", ";
        out += choices[i];
      }
      return out;
    }
    case Kind::endpoint:
      return "host:port";
    case Kind::text:
      break;
  }
  return "";
}

Setting text_setting(std::string name, std::string default_value, std::string help) {
  return {std::move(name), Setting::Kind::text, std::move(default_value), 0, 0, {},
          std::move(help)};
}

Setting integer_setting(std::string name, long default_value, long min, long max,
                        std::string help) {
  return {std::move(name), Setting::Kind::integer, std::to_string(default_value), min, max, {},
          std::move(help)};
}

Setting choice_setting(std::string name, std::string default_value,
                       std::vector<std::string> choices, std::string help) {
  return {std::move(name),    Setting::Kind::choice, std::move(default_value), 0, 0,
          std::move(choices), std::move(help)};
}

Setting endpoint_setting(std::string name, std::string default_value, std::string help) {
  return {std::move(name), Setting::Kind::endpoint, std::move(default_value), 0, 0, {},
          std::move(help)};
}

Settings Settings::from_env(SettingsTable table) {
  Settings settings;
  for (const auto& s : table) {
    std::string value = s.default_value;
    if (const char* v = lookup(s.name.c_str())) {
      value = v;
    } else if (s.is_required()) {
      throw ConfigError(s.name + " is not set");
    }
    check(s, value);
    settings.values_.push_back(std::move(value));
  }
  settings.table_ = std::move(table);
  return settings;
}

std::size_t Settings::index(std::string_view name, Setting::Kind kind) const {
  for (std::size_t i = 0; i < table_.size(); ++i) {
    if (table_[i].name == name) {
      const auto k = table_[i].kind == Setting::Kind::choice ? Setting::Kind::text : table_[i].kind;
      if (k != kind) throw std::logic_error(std::string(name) + " is read as another kind");
      return i;
    }
  }
  throw std::logic_error(std::string(name) + " is not in the settings table");
}

const std::string& Settings::text(std::string_view name) const {
  return values_[index(name, Setting::Kind::text)];
}

long Settings::integer(std::string_view name) const {
  return std::strtol(values_[index(name, Setting::Kind::integer)].c_str(), nullptr, 10);
}

Endpoint Settings::endpoint(std::string_view name) const {
  return parse_endpoint(values_[index(name, Setting::Kind::endpoint)]);
}

std::string help_text(const SettingsTable& table) {
  std::string out;
  for (const auto& s : table) {
    std::string line = "  " + s.name;
    line.append(line.size() < 29 ? 29 - line.size() : 1, ' ');
    line += s.help;
    std::string allowed =
        s.kind == Setting::Kind::integer || s.kind == Setting::Kind::choice ? s.allowed() : "";
    if (s.is_required()) {
      line += " (required)";
    } else {
      line += " (" + (allowed.empty() ? "" : allowed + "; ") + "default " + s.default_value + ")";
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace gabe::config
