#include "gabe/db.hpp"

#include <sys/socket.h>

#include <cstdlib>
#include <string_view>

#include "gabe/log.hpp"
#include "gabe/problem.hpp"

namespace gabe::db {

namespace {

bool is_connection_state(const std::string& sqlstate) {
  // 08: connection exception; 57P01-57P03: admin shutdown, crash shutdown, cannot connect now.
  return sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("57P", 0) == 0;
}

bool is_timeout_state(const std::string& sqlstate) {
  // 57014: statement_timeout (query_canceled); 55P03: lock_timeout (lock_not_available).
  return sqlstate == "57014" || sqlstate == "55P03";
}

}  // namespace

Pool::Pool(std::string url, std::size_t size, ConnectHook on_connect, Limits limits)
    : url_(std::move(url)), size_(size), on_connect_(std::move(on_connect)), limits_(limits) {
  // A database that is down must not hang requests: libpq's own connect timeout.
  setenv("PGCONNECT_TIMEOUT", "3", 0);
  watchdog_ = std::thread([this] { watch(); });
}

Pool::~Pool() {
  {
    std::lock_guard lock(lease_mutex_);
    stopping_ = true;
  }
  lease_changed_.notify_all();
  watchdog_.join();
}

std::unique_ptr<pqxx::connection> Pool::acquire() {
  {
    std::unique_lock lock(mutex_);
    ++waiting_;
    const bool free = available_.wait_for(lock, limits_.acquire,
                                          [this] { return !idle_.empty() || open_ < size_; });
    --waiting_;
    if (!free) {
      ++acquire_timeouts_;
      throw service_unavailable("All database connections are busy.", 1);
    }
    if (!idle_.empty()) {
      auto conn = std::move(idle_.back());
      idle_.pop_back();
      return conn;
    }
    ++open_;
  }
  try {
    auto conn = std::make_unique<pqxx::connection>(url_);
    {
      pqxx::nontransaction tx(*conn);
      tx.exec_params(
          "SELECT set_config('statement_timeout', $1, false), "
          "set_config('lock_timeout', $2, false)",
          std::to_string(limits_.statement.count()), std::to_string(limits_.lock.count()));
    }
    if (on_connect_) on_connect_(*conn);
    return conn;
  } catch (const std::exception& e) {
    discard();
    log::warn("database connection failed", {{"kind", typeid(e).name()}});
    throw service_unavailable("The database is not available.", 2);
  }
}

PoolStats Pool::stats() {
  std::lock_guard lock(mutex_);
  return PoolStats{size_, open_, idle_.size(), waiting_, acquire_timeouts_};
}

void Pool::give_back(std::unique_ptr<pqxx::connection> conn, bool cut) {
  if (cut || !conn->is_open()) {
    conn.reset();
    discard();
    return;
  }
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(conn));
  available_.notify_one();
}

void Pool::discard() {
  std::lock_guard lock(mutex_);
  --open_;
  available_.notify_one();
}

void Pool::begin_lease(pqxx::connection& conn) {
  bool was_idle = false;
  {
    std::lock_guard lock(lease_mutex_);
    was_idle = leases_.empty();
    leases_[&conn] = Lease{std::chrono::steady_clock::now() + limits_.lease, false};
  }
  // Every lease has the same length, so a new one never ends before those already held: the
  // watchdog needs waking only when it was waiting with nothing to watch, not on every request.
  if (was_idle) lease_changed_.notify_all();
}

bool Pool::end_lease(pqxx::connection& conn) {
  std::lock_guard lock(lease_mutex_);
  auto it = leases_.find(&conn);
  const bool cut = it != leases_.end() && it->second.cut;
  if (it != leases_.end()) leases_.erase(it);
  return cut;
}

// Cuts leases that outlive their deadline. Shutting the socket makes the libpq call that waits
// on it return at once with an error, whatever the server is doing; the connection is then
// dropped. end_lease() and this loop hold the same mutex, so a connection that was already
// given back is never cut.
void Pool::watch() {
  std::unique_lock lock(lease_mutex_);
  while (!stopping_) {
    auto next = std::chrono::steady_clock::time_point::max();
    const auto now = std::chrono::steady_clock::now();
    for (auto& [conn, lease] : leases_) {
      if (lease.cut) continue;
      if (lease.deadline <= now) {
        lease.cut = true;
        ::shutdown(conn->sock(), SHUT_RDWR);
        log::warn("database lease cut after its time limit",
                  {{"limit_ms", static_cast<std::int64_t>(limits_.lease.count())}});
      } else {
        next = std::min(next, lease.deadline);
      }
    }
    if (next == std::chrono::steady_clock::time_point::max()) {
      lease_changed_.wait(lock);
    } else {
      lease_changed_.wait_until(lock, next);
    }
  }
}

bool Pool::classify_and_maybe_retry(int attempt, int attempts) {
  // libpqxx 6.4 reports most errors by exception type and leaves sqlstate() empty on them.
  try {
    throw;
  } catch (const pqxx::broken_connection&) {
    throw service_unavailable("The database connection was lost.", 2);
  } catch (const pqxx::in_doubt_error&) {
    throw service_unavailable("The database connection was lost while committing; retry.", 2);
  } catch (const pqxx::statement_completion_unknown&) {
    throw service_unavailable("The database connection was lost during the statement; retry.", 2);
  } catch (const pqxx::transaction_rollback&) {
    // Deadlock or serialisation failure: the transaction rolled back, so it can run again.
    if (attempt < attempts) return true;
    throw service_unavailable("The database is busy; retry.", 1);
  } catch (const pqxx::insufficient_resources&) {
    throw service_unavailable("The database is out of resources.", 5);
  } catch (const pqxx::sql_error& e) {
    const std::string state = e.sqlstate();
    if (is_timeout_state(state)) {
      throw service_unavailable("The database did not answer in time.", 2);
    }
    if (is_connection_state(state) ||
        std::string_view(e.what()).find("terminating connection") != std::string_view::npos) {
      throw service_unavailable("The database is not available.", 2);
    }
    log::error("database error", {{"sqlstate", state}, {"kind", typeid(e).name()}});
    throw internal_error();
  } catch (const pqxx::failure&) {
    // Other libpq failures (e.g. "server closed the connection") mean the database went away.
    throw service_unavailable("The database is not available.", 2);
  }
  return false;
}

void ArrayLiteral::separate() {
  if (text_.size() > 1) text_.push_back(',');
}

void ArrayLiteral::add(std::string_view value) {
  separate();
  text_.reserve(text_.size() + value.size() + 2);
  text_.push_back('"');
  for (char c : value) {
    if (c == '"' || c == '\\') text_.push_back('\\');
    text_.push_back(c);
  }
  text_.push_back('"');
}

void ArrayLiteral::add(const std::optional<std::string>& value) {
  if (value) {
    add(std::string_view(*value));
  } else {
    add_null();
  }
}

void ArrayLiteral::add(std::int64_t value) {
  separate();
  text_ += std::to_string(value);
}

void ArrayLiteral::add_null() {
  separate();
  text_ += "NULL";
}

std::string ArrayLiteral::take() {
  text_.push_back('}');
  std::string out = std::move(text_);
  text_.assign(1, '{');
  return out;
}

}  // namespace gabe::db
