// The scaffolding the tests' plain-socket HTTP/1.1 servers share (webhook_receiver.hpp,
// civicrm_standin.hpp): a listening socket on 127.0.0.1 and one request read from a connection.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace gabe::test {

// A socket listening on 127.0.0.1 on a free port (written to `port`); throws, naming `who`,
// when it cannot.
int listen_on_loopback(std::uint16_t& port, std::string_view who);

struct RawRequest {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;                            // Content-Length bytes
};
// Reads one request; nullopt when the peer closes, the request line is malformed, more than
// 4 MiB arrive, 10 s pass, or `stop` is set.
std::optional<RawRequest> read_request(int fd, const std::atomic<bool>& stop);

void send_all(int fd, std::string_view bytes);

}  // namespace gabe::test
