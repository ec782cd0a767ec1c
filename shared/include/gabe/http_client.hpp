// One outgoing HTTP(S) POST with bounded steps, shared by the webhook sender (gabe/
// webhook_sender.hpp) and the CiviCRM APIv4 client (gabe-ingest). Beast and Asio stay inside
// http_client.cpp (pitfalls.md: heavy to compile). One connection per call: callers make few
// requests, and a fresh connection never reuses a half-broken one.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace gabe::http_client {

struct Post {
  bool https = false;
  std::string host;  // a name or an address literal; IPv6 without brackets
  std::uint16_t port = 0;
  std::string target;  // "/path?query"
  // Sent as given; Host (with the port unless it is the scheme's default), Content-Length and
  // Connection: close are added.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

struct Options {
  // Each step is bounded by its own timeout and all of them by `deadline`.
  std::chrono::milliseconds connect_timeout{5000};  // resolve, connect, TLS handshake (each)
  std::chrono::milliseconds io_timeout{30000};      // write, read the header, read the body
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  bool verify_tls = true;  // peer certificate and host name against the system's CAs
  bool read_body = true;   // false: only the status line and the header are read
  std::size_t max_header_bytes = std::size_t{64} * 1024;
  std::size_t max_body_bytes = std::size_t{64} * 1024;
  // When set, called with every address the host resolves to (IPv4 as ::ffff:a.b.c.d) before
  // connecting; one `true` refuses the request (Failure::refused). The connection goes only to
  // the addresses checked.
  std::function<bool(const std::array<unsigned char, 16>&)> refuse_address;
};

enum class Failure {
  none,
  timeout,    // `step` did not finish in time
  network,    // `step` failed: `message` is the system's or Beast's text
  too_large,  // the answer's body exceeds max_body_bytes (read_body only)
  refused,    // refuse_address refused an address of the host
  tls_setup,  // the TLS library could not set the server name
  exception,  // an unexpected exception: `message` is its what()
};

struct Result {
  int status = 0;    // the answer's HTTP status; 0 when there was none
  std::string body;  // the answer's body (read_body only)
  Failure failure = Failure::none;
  std::string step;  // "resolve", "connect", "TLS handshake", "write" or "read"
  std::string message;
};

// Never throws.
Result post(const Post& request, const Options& options);

}  // namespace gabe::http_client
