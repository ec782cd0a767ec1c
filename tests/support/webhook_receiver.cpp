#include "webhook_receiver.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

#include "gabe/values.hpp"
#include "webhook_signature.hpp"

namespace gabe::test {

namespace {

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Reads until `done` says the buffer holds enough, the peer closes or 10 s pass.
template <typename Done>
bool read_until(int fd, std::string& buffer, Done done, const std::atomic<bool>& stop) {
  char chunk[4096];
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (stop.load() || std::chrono::steady_clock::now() > deadline) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const auto n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<std::size_t>(n));
  }
  return true;
}

}  // namespace

WebhookReceiver::WebhookReceiver() {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (listen_fd_ < 0) throw std::runtime_error("receiver: socket failed");
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 64) != 0) {
    throw std::runtime_error("receiver: bind/listen failed");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

WebhookReceiver::~WebhookReceiver() {
  stop_ = true;
  changed_.notify_all();
  if (acceptor_.joinable()) acceptor_.join();
  std::vector<std::thread> connections;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    connections.swap(connections_);
  }
  for (auto& t : connections) t.join();
  ::close(listen_fd_);
}

std::string WebhookReceiver::url(const std::string& path) const {
  return "http://127.0.0.1:" + std::to_string(port_) + path;
}

void WebhookReceiver::set_secret(const std::string& secret) {
  std::lock_guard<std::mutex> lock(mutex_);
  secret_ = secret;
}

void WebhookReceiver::fail_first(int n, int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  fail_remaining_ = n;
  fail_status_ = status;
}

void WebhookReceiver::answer_always(int status) {
  std::lock_guard<std::mutex> lock(mutex_);
  always_ = status;
}

void WebhookReceiver::hold(bool on) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    hold_ = on;
  }
  changed_.notify_all();
}

std::vector<ReceivedWebhook> WebhookReceiver::received() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return received_;
}

std::size_t WebhookReceiver::count() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return received_.size();
}

bool WebhookReceiver::wait_for(std::size_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mutex_);
  return changed_.wait_for(lock, timeout, [&] { return received_.size() >= n; });
}

void WebhookReceiver::accept_loop() {
  while (!stop_.load()) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const int fd = ::accept(listen_fd_, nullptr, nullptr);
    if (fd < 0) continue;
    std::lock_guard<std::mutex> lock(mutex_);
    connections_.emplace_back([this, fd] {
      serve(fd);
      ::close(fd);
    });
  }
}

void WebhookReceiver::serve(int fd) {
  std::string buffer;
  if (!read_until(
          fd, buffer, [&] { return buffer.find("\r\n\r\n") != std::string::npos; }, stop_)) {
    return;
  }
  const auto head_end = buffer.find("\r\n\r\n");
  ReceivedWebhook w;
  w.at = std::chrono::steady_clock::now();
  std::size_t line_start = 0;
  std::size_t content_length = 0;
  bool first = true;
  while (line_start < head_end) {
    auto line_end = buffer.find("\r\n", line_start);
    const std::string line = buffer.substr(line_start, line_end - line_start);
    line_start = line_end + 2;
    if (first) {
      const auto a = line.find(' ');
      const auto b = line.find(' ', a + 1);
      w.target = line.substr(a + 1, b - a - 1);
      first = false;
      continue;
    }
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.erase(0, 1);
    w.headers[lower(line.substr(0, colon))] = value;
  }
  if (auto it = w.headers.find("content-length"); it != w.headers.end()) {
    content_length = std::stoul(it->second);
  }
  const auto body_start = head_end + 4;
  if (!read_until(
          fd, buffer, [&] { return buffer.size() >= body_start + content_length; }, stop_)) {
    return;
  }
  w.body = buffer.substr(body_start, content_length);

  std::unique_lock<std::mutex> lock(mutex_);
  w.signature_ok = ingest::verify_webhook_signature(
                       {secret_}, w.headers["webhook-id"], w.headers["webhook-timestamp"],
                       w.headers["webhook-signature"], w.body,
                       now_epoch_seconds()) == ingest::SignatureCheck::ok;
  int status = always_;
  if (fail_remaining_ > 0) {
    --fail_remaining_;
    status = fail_status_;
  }
  const std::size_t index = received_.size();
  received_.push_back(w);
  changed_.notify_all();
  changed_.wait(lock, [this] { return !hold_ || stop_.load(); });
  if (stop_.load()) return;
  received_[index].answered = status;
  lock.unlock();
  const std::string answer = "HTTP/1.1 " + std::to_string(status) +
                             " Scripted\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
  ::send(fd, answer.data(), answer.size(), MSG_NOSIGNAL);
}

}  // namespace gabe::test
