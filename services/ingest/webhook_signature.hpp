// Incoming Standard Webhooks: ingest's names for the shared implementation
// (gabe/webhook_signature.hpp), which the outbox signs its outgoing webhooks with.
#pragma once

#include "gabe/webhook_signature.hpp"

namespace gabe::ingest {

using webhooks::kTimestampToleranceSeconds;
using webhooks::SignatureCheck;

inline SignatureCheck verify_webhook_signature(const std::vector<std::string>& secrets,
                                               std::string_view id, std::string_view timestamp,
                                               std::string_view signature_header,
                                               std::string_view body,
                                               std::int64_t now_epoch_seconds) {
  return webhooks::verify(secrets, id, timestamp, signature_header, body, now_epoch_seconds);
}

// "v1,<base64>" for one secret; used by gabectl, tests and benchmarks.
inline std::string sign_webhook(std::string_view secret, std::string_view id,
                                std::int64_t timestamp, std::string_view body) {
  return webhooks::sign(secret, id, timestamp, body);
}

}  // namespace gabe::ingest
