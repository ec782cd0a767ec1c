// libFuzzer target: the subscriber URL of POST /v1/subscriptions (shared/src/webhook_signing.cpp).
// Whatever it accepts must be a URL the sender can use: a host, a port from 1, a target that
// starts with "/" and holds no space, control character or fragment; and writing the parts back
// as a URL must parse to the same parts, judged internal (SSRF check) the same way.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gabe/webhook_sender.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto url = gabe::webhooks::parse_webhook_url(text);
  if (!url) return 0;
  if (url->host.empty() || url->port == 0 || url->target.empty() || url->target[0] != '/') {
    __builtin_trap();
  }
  for (char c : url->target) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '#') __builtin_trap();
  }
  const bool v6 = url->host.find(':') != std::string::npos;
  const std::string again = std::string(url->https ? "https://" : "http://") +
                            (v6 ? "[" + url->host + "]" : url->host) + ":" +
                            std::to_string(url->port) + url->target;
  auto reparsed = gabe::webhooks::parse_webhook_url(again);
  if (!reparsed || reparsed->host != url->host || reparsed->port != url->port ||
      reparsed->target != url->target || reparsed->https != url->https ||
      gabe::webhooks::is_internal_host(*reparsed) != gabe::webhooks::is_internal_host(*url)) {
    __builtin_trap();
  }
  return 0;
}
