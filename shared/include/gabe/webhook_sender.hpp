// Outgoing Standard Webhooks (v1): the subscriber URL check and one signed HTTP(S) POST (the
// signature itself: gabe/webhook_signature.hpp, shared with gabe-ingest's verifier). The POST goes
// through gabe/http_client.hpp.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "gabe/webhook_signature.hpp"

namespace gabe::webhooks {

// Where a subscriber receives: http or https, a host (name, IPv4 or [IPv6]), an optional
// port, a path with query. No user info, no fragment, no spaces or control characters.
struct WebhookUrl {
  bool https = false;
  std::string host;  // without brackets for IPv6
  std::uint16_t port = 0;
  std::string target;  // "/path?query", at least "/"
};

// nullopt when `text` is not such a URL (the outside input a subscription brings).
std::optional<WebhookUrl> parse_webhook_url(std::string_view text);

// Addresses a subscriber must not make the service call (SSRF): unspecified (0/8, ::),
// loopback (127/8, ::1), link-local (169.254/16 with the cloud metadata address, fe80::/10),
// private (10/8, 172.16/12, 192.168/16, 100.64/10, fc00::/7), benchmarking, multicast and
// reserved; IPv6 forms embedding an IPv4 address (::ffff:a.b.c.d, ::a.b.c.d, 64:ff9b::/96) are
// judged by it. IPv4 in host order.
bool is_internal_ipv4(std::uint32_t address);
bool is_internal_ipv6(const std::array<unsigned char, 16>& address);
// The check at subscription time, before any name is resolved: true when the URL's host is an
// internal address literal (IPv4 also in the short forms a resolver accepts, "127.1",
// "2130706433", "0x7f.1") or "localhost" or a name under it. A name that resolves to an internal
// address is refused by post_signed.
bool is_internal_host(const WebhookUrl& url);

struct DeliveryResult {
  int status = 0;     // the answer's HTTP status; 0 when there was none
  std::string error;  // why there was no answer (connect, TLS, timeout); never answer content
  bool acknowledged() const { return status >= 200 && status < 300; }
};

// POSTs `body` as application/json with webhook-id, webhook-timestamp and webhook-signature.
// The whole exchange (resolve, connect, TLS, write, read) is bounded by `timeout`; only the
// answer's status line and header (up to 16 KiB) are read. Unless `allow_internal`, a host that
// resolves to any internal address (is_internal_ipv4/6) is not connected to: the result's error
// says "refused".
// Never throws.
DeliveryResult post_signed(const WebhookUrl& url, std::string_view secret, std::string_view id,
                           std::int64_t timestamp, std::string_view body,
                           std::chrono::milliseconds timeout, bool allow_internal);

}  // namespace gabe::webhooks
