// Standard Webhooks v1: the signature is HMAC-SHA256 over "{id}.{timestamp}.{body}" with the
// Base64-decoded part of a "whsec_…" secret; the header lists "v1,<base64>" entries separated
// by spaces, any one of which may match any current secret.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gabe::ingest {

enum class SignatureCheck { ok, missing_headers, bad_timestamp, stale_timestamp, mismatch };

inline constexpr std::int64_t kTimestampToleranceSeconds = 300;

SignatureCheck verify_webhook_signature(const std::vector<std::string>& secrets,
                                        std::string_view id, std::string_view timestamp,
                                        std::string_view signature_header, std::string_view body,
                                        std::int64_t now_epoch_seconds);

// "v1,<base64>" for one secret; used by gabectl, tests, benchmarks and outgoing webhooks.
std::string sign_webhook(std::string_view secret, std::string_view id, std::int64_t timestamp,
                         std::string_view body);

}  // namespace gabe::ingest
