// libFuzzer target: the small parsers of outside text — money, dates, instants and the
// Standard Webhooks signature header — with their round-trip properties.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gabe/values.hpp"
#include "webhook_signature.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto cents = gabe::parse_money(text)) {
    if (gabe::parse_money(gabe::format_money(*cents)) != cents) __builtin_trap();
  }
  if (gabe::is_valid_date(text) && text.size() != 10) __builtin_trap();
  if (auto instant = gabe::parse_instant(text)) {
    auto again = gabe::parse_instant(gabe::format_instant(*instant));
    if (!again || again->epoch_seconds != instant->epoch_seconds) __builtin_trap();
  }
  gabe::ingest::verify_webhook_signature({"whsec_c2VjcmV0LW51bWJlci10d28tZm9yLXRlc3Rz"}, "id",
                                         "1795514400", text, "{}", 1795514400);
  return 0;
}
