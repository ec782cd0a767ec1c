// PostgreSQL access. A connection pool that survives a database restart: a connection that breaks
// is discarded and a new one is made on the next lease; while none can be made, callers get a 503
// Problem with Retry-After. No caller waits on the database without a bound: waiting for a
// connection, for a lock, for a statement and for the whole lease each have a limit, and what
// passes one ends in a 503 with Retry-After.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <pqxx/pqxx>

#include "gabe/problem.hpp"

namespace gabe::db {

// How long a caller may wait on the database. The defaults keep a request's wait under 10 s
// (spec/quality.md): a connection within `acquire`, then all of one run() within `lease`.
struct Limits {
  std::chrono::milliseconds acquire{2000};    // for a free connection of the pool
  std::chrono::milliseconds lock{3000};       // PostgreSQL's lock_timeout, per lock
  std::chrono::milliseconds statement{6000};  // PostgreSQL's statement_timeout, per statement
  // One run(), enforced by this process: a paused or unreachable server cannot enforce its own
  // timeouts, so past this the connection's socket is shut and the caller gets a 503.
  std::chrono::milliseconds lease{8000};
};

// What the pool is doing at one moment, for the metrics (GET /metrics): its size, the
// connections open (leased or opening, and idle), the callers waiting for one, and how many waits
// ended in a 503 because none came free in time (since start).
struct PoolStats {
  std::size_t size = 0;
  std::size_t open = 0;
  std::size_t idle = 0;
  std::size_t waiting = 0;
  std::uint64_t acquire_timeouts = 0;
};

class Pool {
 public:
  using ConnectHook = std::function<void(pqxx::connection&)>;
  Pool(std::string url, std::size_t size, ConnectHook on_connect = {}, Limits limits = {});
  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Runs fn with a connection. Connection failures become 503 (the connection is dropped);
  // deadlocks and serialisation failures are retried up to `attempts` times, since fn's
  // transaction rolled back; fn must therefore be safe to run again.
  template <typename Fn>
  auto run(Fn&& fn, int attempts = 3) -> decltype(fn(std::declval<pqxx::connection&>()));

  PoolStats stats();

 private:
  std::unique_ptr<pqxx::connection> acquire();
  // Gives a leased connection back, or drops it when it broke or its lease was cut.
  void give_back(std::unique_ptr<pqxx::connection> conn, bool cut);
  void discard();
  // Rethrows the current exception as a Problem when it is a database availability error;
  // returns true when the work should be retried.
  bool classify_and_maybe_retry(int attempt, int attempts);
  // Lease bookkeeping for the watchdog; end_lease says whether the lease was cut.
  void begin_lease(pqxx::connection& conn);
  bool end_lease(pqxx::connection& conn);
  void watch();

  std::string url_;
  std::size_t size_;
  ConnectHook on_connect_;
  Limits limits_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
  std::size_t open_ = 0;
  std::size_t waiting_ = 0;
  std::uint64_t acquire_timeouts_ = 0;

  struct Lease {
    std::chrono::steady_clock::time_point deadline;
    bool cut = false;
  };
  std::mutex lease_mutex_;
  std::condition_variable lease_changed_;
  std::map<const pqxx::connection*, Lease> leases_;
  bool stopping_ = false;
  std::thread watchdog_;
};

template <typename Fn>
auto Pool::run(Fn&& fn, int attempts) -> decltype(fn(std::declval<pqxx::connection&>())) {
  for (int attempt = 1;; ++attempt) {
    auto conn = acquire();
    begin_lease(*conn);
    try {
      if constexpr (std::is_void_v<decltype(fn(*conn))>) {
        fn(*conn);
        const bool cut = end_lease(*conn);
        give_back(std::move(conn), cut);
        return;
      } else {
        auto result = fn(*conn);
        const bool cut = end_lease(*conn);
        give_back(std::move(conn), cut);
        return result;
      }
    } catch (...) {
      const bool cut = end_lease(*conn);
      give_back(std::move(conn), cut);
      if (cut) {
        throw service_unavailable("The database did not answer in time.", 2);
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
