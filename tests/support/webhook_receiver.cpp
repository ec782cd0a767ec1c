#include "webhook_receiver.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gabe/values.hpp"
#include "test_server.hpp"
#include "webhook_signature.hpp"

namespace gabe::test {

WebhookReceiver::WebhookReceiver() {
  listen_fd_ = listen_on_loopback(port_, "receiver");
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
  auto request = read_request(fd, stop_);
  if (!request) return;
  ReceivedWebhook w;
  w.at = std::chrono::steady_clock::now();
  w.target = std::move(request->target);
  w.headers = std::move(request->headers);
  w.body = std::move(request->body);

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
  send_all(fd, answer);
}

}  // namespace gabe::test
