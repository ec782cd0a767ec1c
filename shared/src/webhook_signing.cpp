// Outgoing signed webhooks without the network: the subscriber URL check (outside input: a
// fuzz target reads it, tests/fuzz/fuzz_webhook_url.cpp) and the Standard Webhooks signature.
#include "gabe/crypto.hpp"
#include "gabe/webhook_sender.hpp"

namespace gabe::webhooks {

namespace {

constexpr std::size_t kMaxUrlBytes = 2000;

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.';
}

bool is_target_char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u > 0x20 && u < 0x7f && c != '#';
}

std::optional<std::string> secret_key(std::string_view secret) {
  constexpr std::string_view kPrefix = "whsec_";
  if (secret.substr(0, kPrefix.size()) == kPrefix) secret.remove_prefix(kPrefix.size());
  return crypto::base64_decode(secret);
}

}  // namespace

std::optional<WebhookUrl> parse_webhook_url(std::string_view text) {
  if (text.empty() || text.size() > kMaxUrlBytes) return std::nullopt;
  WebhookUrl url;
  auto starts_with_ci = [&](std::string_view prefix) {
    if (text.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
      const char c = text[i];
      const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
      if (lower != prefix[i]) return false;
    }
    return true;
  };
  std::string_view rest;
  if (starts_with_ci("https://")) {
    url.https = true;
    rest = text.substr(8);
  } else if (starts_with_ci("http://")) {
    rest = text.substr(7);
  } else {
    return std::nullopt;
  }
  const auto end_of_authority = rest.find_first_of("/?");
  std::string_view authority = rest.substr(0, end_of_authority);
  std::string_view target =
      end_of_authority == std::string_view::npos ? "" : rest.substr(end_of_authority);
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos || close < 2) return std::nullopt;
    const auto v6 = authority.substr(1, close - 1);
    if (v6.find(':') == std::string_view::npos) return std::nullopt;  // not an IPv6 address
    for (char c : v6) {
      const bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
      if (!hex && c != ':' && c != '.') return std::nullopt;
    }
    url.host = std::string(v6);
    const auto after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port_text = after.substr(1);
      if (port_text.empty()) return std::nullopt;
    }
  } else {
    const auto colon = authority.find(':');
    const auto host = authority.substr(0, colon);
    if (host.empty() || host.size() > 253) return std::nullopt;
    for (char c : host) {
      if (!is_host_char(c)) return std::nullopt;
    }
    if (host.front() == '.' || host.front() == '-') return std::nullopt;
    url.host = std::string(host);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) return std::nullopt;
    }
  }
  if (!port_text.empty()) {
    if (port_text.size() > 5) return std::nullopt;
    long port = 0;
    for (char c : port_text) {
      if (c < '0' || c > '9') return std::nullopt;
      port = port * 10 + (c - '0');
    }
    if (port < 1 || port > 65535) return std::nullopt;
    url.port = static_cast<std::uint16_t>(port);
  } else {
    url.port = url.https ? 443 : 80;
  }
  for (char c : target) {
    if (!is_target_char(c)) return std::nullopt;
  }
  url.target = target.empty()
                   ? "/"
                   : (target.front() == '?' ? "/" + std::string(target) : std::string(target));
  return url;
}

std::string sign(std::string_view secret, std::string_view id, std::int64_t timestamp,
                 std::string_view body) {
  std::string content;
  const std::string ts = std::to_string(timestamp);
  content.reserve(id.size() + ts.size() + body.size() + 2);
  content.append(id).append(".").append(ts).append(".").append(body);
  return "v1," +
         crypto::base64_encode(crypto::hmac_sha256(secret_key(secret).value_or(""), content));
}

}  // namespace gabe::webhooks
