// Outgoing signed webhooks without the network: the subscriber URL check (outside input: a
// fuzz target reads it, tests/fuzz/fuzz_webhook_url.cpp) and the Standard Webhooks signature,
// signed on the way out and verified on the way in (gabe-ingest).
#include <arpa/inet.h>

#include <cstring>

#include "gabe/crypto.hpp"
#include "gabe/webhook_sender.hpp"
#include "gabe/webhook_signature.hpp"

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

// The HMAC key of a secret: the Base64-decoded part of "whsec_…", any other secret as it is.
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

bool is_internal_ipv4(std::uint32_t a) {
  auto in = [a](std::uint32_t net, int bits) {
    const std::uint32_t mask = bits == 0 ? 0 : ~std::uint32_t{0} << (32 - bits);
    return (a & mask) == net;
  };
  return in(0x00000000, 8)      // "this network", 0.0.0.0
         || in(0x0A000000, 8)   // 10/8
         || in(0x64400000, 10)  // 100.64/10, carrier-grade NAT
         || in(0x7F000000, 8)   // loopback
         || in(0xA9FE0000, 16)  // link-local, 169.254.169.254 cloud metadata
         || in(0xAC100000, 12)  // 172.16/12
         || in(0xC0000000, 24)  // 192.0.0/24, protocol assignments
         || in(0xC0A80000, 16)  // 192.168/16
         || in(0xC6120000, 15)  // 198.18/15, benchmarking
         || in(0xE0000000, 3);  // multicast, reserved, broadcast
}

bool is_internal_ipv6(const std::array<unsigned char, 16>& b) {
  auto zeros = [&b](std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      if (b[i] != 0) return false;
    }
    return true;
  };
  auto tail_v4 = [&b] {
    return (std::uint32_t{b[12]} << 24) | (std::uint32_t{b[13]} << 16) |
           (std::uint32_t{b[14]} << 8) | std::uint32_t{b[15]};
  };
  if (zeros(12)) return is_internal_ipv4(tail_v4());  // ::, ::1, ::a.b.c.d
  if (zeros(10) && b[10] == 0xff && b[11] == 0xff) return is_internal_ipv4(tail_v4());
  const std::array<unsigned char, 12> nat64 = {0x00, 0x64, 0xff, 0x9b};
  if (std::memcmp(b.data(), nat64.data(), nat64.size()) == 0) return is_internal_ipv4(tail_v4());
  return b[0] == 0xff                                 // multicast
         || (b[0] & 0xfe) == 0xfc                     // unique local fc00::/7
         || (b[0] == 0xfe && (b[1] & 0x80) == 0x80);  // link-local fe80::/10, site-local fec0::/10
}

bool is_internal_host(const WebhookUrl& url) {
  std::string host = url.host;
  for (auto& c : host) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  while (!host.empty() && host.back() == '.') host.pop_back();
  constexpr std::string_view kLocal = "localhost";
  if (host == kLocal || (host.size() > kLocal.size() && host.ends_with(kLocal) &&
                         host[host.size() - kLocal.size() - 1] == '.')) {
    return true;
  }
  if (url.host.find(':') != std::string::npos) {
    std::array<unsigned char, 16> v6{};
    return inet_pton(AF_INET6, url.host.c_str(), v6.data()) == 1 && is_internal_ipv6(v6);
  }
  in_addr v4{};
  // inet_aton, not inet_pton: it reads the short and numeric forms getaddrinfo also accepts.
  return inet_aton(host.c_str(), &v4) != 0 && is_internal_ipv4(ntohl(v4.s_addr));
}

SignatureCheck verify(const std::vector<std::string>& secrets, std::string_view id,
                      std::string_view timestamp, std::string_view signature_header,
                      std::string_view body, std::int64_t now_epoch_seconds) {
  if (id.empty() || timestamp.empty() || signature_header.empty())
    return SignatureCheck::missing_headers;
  auto ts = parse_timestamp(timestamp);
  if (!ts) return SignatureCheck::bad_timestamp;
  if (*ts < now_epoch_seconds - kTimestampToleranceSeconds ||
      *ts > now_epoch_seconds + kTimestampToleranceSeconds) {
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

std::string sign(std::string_view secret, std::string_view id, std::int64_t timestamp,
                 std::string_view body) {
  const std::string content = signed_content(id, std::to_string(timestamp), body);
  return "v1," +
         crypto::base64_encode(crypto::hmac_sha256(secret_key(secret).value_or(""), content));
}

}  // namespace gabe::webhooks
