#include "gabe/db.hpp"

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

}  // namespace

Pool::Pool(std::string url, std::size_t size, ConnectHook on_connect)
    : url_(std::move(url)), size_(size), on_connect_(std::move(on_connect)) {
  // A database that is down must not hang requests: libpq's own connect timeout.
  setenv("PGCONNECT_TIMEOUT", "3", 0);
}

Pool::~Pool() = default;

std::unique_ptr<pqxx::connection> Pool::acquire() {
  {
    std::unique_lock lock(mutex_);
    if (!available_.wait_for(lock, std::chrono::seconds(10),
                             [this] { return !idle_.empty() || open_ < size_; })) {
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
    if (on_connect_) on_connect_(*conn);
    return conn;
  } catch (const std::exception& e) {
    discard();
    log::warn("database connection failed", {{"kind", typeid(e).name()}});
    throw service_unavailable("The database is not available.", 2);
  }
}

void Pool::release(std::unique_ptr<pqxx::connection> conn) {
  std::lock_guard lock(mutex_);
  idle_.push_back(std::move(conn));
  available_.notify_one();
}

void Pool::discard() {
  std::lock_guard lock(mutex_);
  --open_;
  available_.notify_one();
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
