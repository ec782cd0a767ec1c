// libFuzzer target: the parsers of what a CiviCRM site sends or is configured with — an APIv4
// answer (interpret_answer), the REST base URL, and form-encoded bodies — with their properties.
#include <cstddef>
#include <cstdint>
#include <string>

#include "civicrm_api.hpp"

namespace civi = gabe::ingest::civicrm;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto answer = civi::interpret_answer(200, text);
  if (answer.ok()) {
    // Every value is an object, and the id check of the pager must not touch undefined types.
    for (const auto& record : answer.values().GetArray()) {
      if (!record.IsObject()) __builtin_trap();
      if (const auto* id = gabe::member(record, "id"); id != nullptr && id->IsInt64()) {
        (void)id->GetInt64();
      }
    }
    if (answer.count < 0) __builtin_trap();
  } else if (answer.values().Size() != 0) {
    __builtin_trap();
  }
  if (auto endpoint = civi::parse_api_base(text)) {
    if (endpoint->host.empty() || endpoint->port == 0) __builtin_trap();
    (void)civi::api_target(*endpoint, "Contact", "get");
  }
  if (auto decoded = civi::form_decode(text)) {
    if (civi::form_decode(civi::form_encode(*decoded)) != decoded) __builtin_trap();
  }
  (void)civi::form_field(text, "params");
  return 0;
}
