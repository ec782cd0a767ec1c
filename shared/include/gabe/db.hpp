// PostgreSQL access. A connection pool that survives a database restart: a connection that breaks
// is discarded and a new one is made on the next lease; while none can be made, callers get a 503
// Problem with Retry-After.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

namespace gabe::db {

class Pool {
 public:
  using ConnectHook = std::function<void(pqxx::connection&)>;
  Pool(std::string url, std::size_t size, ConnectHook on_connect = {});
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Runs fn with a connection. Connection failures become 503 (the connection is dropped);
  // deadlocks and serialisation failures are retried up to `attempts` times, since fn's
  // transaction rolled back; fn must therefore be safe to run again.
  template <typename Fn>
  auto run(Fn&& fn, int attempts = 3) -> decltype(fn(std::declval<pqxx::connection&>()));

 private:
  std::unique_ptr<pqxx::connection> acquire();
  void release(std::unique_ptr<pqxx::connection> conn);
  void discard();
  // Rethrows the current exception as a Problem when it is a database availability error;
  // returns true when the work should be retried.
  bool classify_and_maybe_retry(int attempt, int attempts);

  std::string url_;
  std::size_t size_;
  ConnectHook on_connect_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  std::size_t open_ = 0;
};

template <typename Fn>
auto Pool::run(Fn&& fn, int attempts) -> decltype(fn(std::declval<pqxx::connection&>())) {
  for (int attempt = 1;; ++attempt) {
    auto conn = acquire();
    try {
      if constexpr (std::is_void_v<decltype(fn(*conn))>) {
        fn(*conn);
        release(std::move(conn));
        return;
      } else {
        auto result = fn(*conn);
        release(std::move(conn));
        return result;
      }
    } catch (...) {
      bool healthy = conn && conn->is_open();
      if (healthy) {
        release(std::move(conn));
      } else {
        conn.reset();
        discard();
      }
      if (!classify_and_maybe_retry(attempt, attempts)) throw;
    }
  }
}

// A PostgreSQL array literal ("{...}") built element by element, for passing a column of
// values as one parameter (e.g. `unnest($1::text[])`): every element is quoted and escaped,
// std::nullopt becomes NULL.
class ArrayLiteral {
 public:
  ArrayLiteral() { text_.push_back('{'); }
  void add(std::string_view value);
  void add(const std::string& value) { add(std::string_view(value)); }
  void add(const std::optional<std::string>& value);
  void add(std::int64_t value);
  void add_null();
  // Text empty -> NULL: for optional values that are kept as empty strings.
  void add_or_null(std::string_view value) {
    if (value.empty()) {
      add_null();
    } else {
      add(value);
    }
  }
  std::string take();

 private:
  void separate();
  std::string text_;
};

}  // namespace gabe::db
