#include "webhook_signature.hpp"

#include <optional>

#include "gabe/crypto.hpp"

namespace gabe::ingest {

namespace {

std::optional<std::string> secret_key(std::string_view secret) {
  constexpr std::string_view kPrefix = "whsec_";
  if (secret.substr(0, kPrefix.size()) == kPrefix)
    return crypto::base64_decode(secret.substr(kPrefix.size()));
  return std::string(secret);
}

std::optional<std::int64_t> parse_timestamp(std::string_view s) {
  if (s.empty() || s.size() > 12) return std::nullopt;
  std::int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

std::string signed_content(std::string_view id, std::string_view timestamp, std::string_view body) {
  std::string content;
  content.reserve(id.size() + timestamp.size() + body.size() + 2);
  content.append(id).append(".").append(timestamp).append(".").append(body);
  return content;
}

}  // namespace

SignatureCheck verify_webhook_signature(const std::vector<std::string>& secrets,
                                        std::string_view id, std::string_view timestamp,
                                        std::string_view signature_header, std::string_view body,
                                        std::int64_t now) {
  if (id.empty() || timestamp.empty() || signature_header.empty())
    return SignatureCheck::missing_headers;
  auto ts = parse_timestamp(timestamp);
  if (!ts) return SignatureCheck::bad_timestamp;
  if (*ts < now - kTimestampToleranceSeconds || *ts > now + kTimestampToleranceSeconds) {
    return SignatureCheck::stale_timestamp;
  }
  const std::string content = signed_content(id, timestamp, body);
  std::vector<std::string> expected;
  for (const auto& secret : secrets) {
    if (auto key = secret_key(secret)) expected.push_back(crypto::hmac_sha256(*key, content));
  }
  std::size_t pos = 0;
  bool matched = false;
  while (pos < signature_header.size()) {
    auto end = signature_header.find(' ', pos);
    if (end == std::string_view::npos) end = signature_header.size();
    auto entry = signature_header.substr(pos, end - pos);
    pos = end + 1;
    if (entry.substr(0, 3) != "v1,") continue;
    auto given = crypto::base64_decode(entry.substr(3));
    if (!given) continue;
    // Every candidate is compared, in constant time, so timing tells nothing about which.
    for (const auto& e : expected) matched |= crypto::constant_time_equal(*given, e);
  }
  return matched ? SignatureCheck::ok : SignatureCheck::mismatch;
}

std::string sign_webhook(std::string_view secret, std::string_view id, std::int64_t timestamp,
                         std::string_view body) {
  auto key = secret_key(secret);
  const std::string ts = std::to_string(timestamp);
  return "v1," +
         crypto::base64_encode(crypto::hmac_sha256(key.value_or(""), signed_content(id, ts, body)));
}

}  // namespace gabe::ingest
