// libFuzzer target: a segment rule as a client sends it, through the JSON parser and the rule
// compiler. It must end as a compiled rule or a 4xx Problem; a compiled rule's SQL never
// holds a quote, a semicolon or a comment (values are bound, never spliced), and it
// references exactly the values it binds.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gabe/json.hpp"
#include "gabe/problem.hpp"
#include "rules.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    auto doc = gabe::parse_json(text);
    auto rule = gabe::segments::compile_rule(*doc);
    const auto sql = gabe::segments::member_query(rule);
    if (sql.find_first_of("';") != std::string::npos) __builtin_trap();
    if (sql.find("--") != std::string::npos || sql.find("/*") != std::string::npos)
      __builtin_trap();
    const auto bound = rule.bound_values();
    const std::string last = "[" + std::to_string(bound.size()) + "]";
    if (!bound.empty() && sql.find(last) == std::string::npos) __builtin_trap();
    const std::string beyond = "[" + std::to_string(bound.size() + 1) + "]";
    if (sql.find(beyond) != std::string::npos) __builtin_trap();
  } catch (const gabe::Problem& p) {
    if (p.status() < 400 || p.status() >= 500) __builtin_trap();
  }
  return 0;
}
