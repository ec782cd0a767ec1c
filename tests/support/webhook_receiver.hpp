// A local webhook receiver for end-to-end tests of outgoing webhooks: a plain-socket HTTP/1.1
// server on 127.0.0.1 (a thread per connection) that records every request, checks its
// Standard Webhooks signature with gabe-ingest's verifier, and answers as the test scripts it:
// fail the first N requests with a status, answer everything with a status, or hold answers
// until released (to kill a sender mid-delivery).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace gabe::test {

struct ReceivedWebhook {
  std::map<std::string, std::string> headers;  // lower-case names
  std::string target;
  std::string body;
  bool signature_ok = false;
  int answered = 0;  // the status the receiver answered (0: none, the connection was cut)
  std::chrono::steady_clock::time_point at;
};

class WebhookReceiver {
 public:
  WebhookReceiver();
  ~WebhookReceiver();
  WebhookReceiver(const WebhookReceiver&) = delete;
  WebhookReceiver& operator=(const WebhookReceiver&) = delete;

  std::uint16_t port() const { return port_; }
  std::string url(const std::string& path = "/hook") const;

  // The secret signatures are checked against (the one a subscription answered).
  void set_secret(const std::string& secret);
  // The next `n` requests are answered `status`; later ones 200.
  void fail_first(int n, int status = 500);
  // Every request answered `status` (until changed).
  void answer_always(int status);
  // While held, requests are read and recorded but not answered.
  void hold(bool on);

  std::vector<ReceivedWebhook> received() const;
  std::size_t count() const;
  // Waits until at least `n` requests have been recorded.
  bool wait_for(std::size_t n, std::chrono::milliseconds timeout) const;

 private:
  void accept_loop();
  void serve(int fd);

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  mutable std::condition_variable changed_;
  std::string secret_;
  int fail_remaining_ = 0;
  int fail_status_ = 500;
  int always_ = 200;
  bool hold_ = false;
  std::vector<ReceivedWebhook> received_;
  std::vector<std::thread> connections_;
  std::thread acceptor_;
};

}  // namespace gabe::test
