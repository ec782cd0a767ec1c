// A small blocking HTTP/1.1 client for tests (and the benchmark): keep-alive, Content-Length
// bodies only, which is what Gabe's services send.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gabe::test {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::optional<std::string> header(const std::string& lower_name) const;
};

class HttpClient {
 public:
  explicit HttpClient(std::uint16_t port, int timeout_ms = 30000);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Throws std::runtime_error when the connection fails or closes without an answer.
  HttpResponse request(const std::string& method, const std::string& target,
                       const std::vector<std::pair<std::string, std::string>>& headers = {},
                       const std::string& body = "");
  HttpResponse get(const std::string& target, const std::string& token = "");
  // Sends raw bytes and reads one response (for malformed-request tests).
  HttpResponse raw(const std::string& bytes);
  // A request in parts (slow clients, requests in flight): send() writes bytes without reading
  // and throws once the server has closed the connection; receive() reads one response.
  void send(const std::string& bytes);
  HttpResponse receive() { return read_response(); }

 private:
  void connect();
  HttpResponse read_response();
  std::uint16_t port_;
  int timeout_ms_;
  int fd_ = -1;
  std::string buffer_;
};

}  // namespace gabe::test
