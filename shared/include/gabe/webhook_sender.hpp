// Outgoing Standard Webhooks (v1): signing and one HTTP(S) POST. The signature is
// "v1," + Base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")) where key is the Base64-decoded
// part of a "whsec_…" secret, the scheme gabe-ingest verifies on the way in. Beast and Asio stay
// inside webhook_sender.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

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

// The webhook-signature header value for one secret: "v1,<base64>".
std::string sign(std::string_view secret, std::string_view id, std::int64_t timestamp,
                 std::string_view body);

struct DeliveryResult {
  int status = 0;     // the answer's HTTP status; 0 when there was none
  std::string error;  // why there was no answer (connect, TLS, timeout); never answer content
  bool acknowledged() const { return status >= 200 && status < 300; }
};

// POSTs `body` as application/json with webhook-id, webhook-timestamp and webhook-signature.
// The whole exchange (resolve, connect, TLS, write, read) is bounded by `timeout`; the answer's
// body is read (up to 64 KiB) and dropped. Never throws.
DeliveryResult post_signed(const WebhookUrl& url, std::string_view secret, std::string_view id,
                           std::int64_t timestamp, std::string_view body,
                           std::chrono::milliseconds timeout);

}  // namespace gabe::webhooks
