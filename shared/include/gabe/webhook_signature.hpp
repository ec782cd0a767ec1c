// Standard Webhooks v1 signatures, the one implementation for both directions: gabe-ingest
// verifies incoming webhooks with verify(), the outbox signs outgoing ones with sign(). The
// signature is "v1," + Base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")) where key is the
// Base64-decoded part of a "whsec_…" secret (any other secret is used as it is); the header lists
// "v1,<base64>" entries separated by spaces, any one of which may match any current secret.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gabe::webhooks {

enum class SignatureCheck { ok, missing_headers, bad_timestamp, stale_timestamp, mismatch };

inline constexpr std::int64_t kTimestampToleranceSeconds = 300;

SignatureCheck verify(const std::vector<std::string>& secrets, std::string_view id,
                      std::string_view timestamp, std::string_view signature_header,
                      std::string_view body, std::int64_t now_epoch_seconds);

// The webhook-signature header value for one secret: "v1,<base64>".
std::string sign(std::string_view secret, std::string_view id, std::int64_t timestamp,
                 std::string_view body);

}  // namespace gabe::webhooks
