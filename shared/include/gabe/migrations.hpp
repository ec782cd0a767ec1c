// Numbered SQL migrations, embedded at build time from migrations/*.sql, applied in order and
// recorded with a checksum; an applied migration whose text changed is an error.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <pqxx/pqxx>

namespace gabe::migrations {

struct Migration {
  int version;
  const char* name;
  const char* sql;
};

const std::vector<Migration>& embedded();
int latest_version();
std::string checksum(const Migration& m);

struct Status {
  int version;
  std::string name;
  bool applied;
  std::string applied_at;
  bool checksum_matches;
};

// Applies what is missing; prints one line per applied migration. Throws std::runtime_error
// naming the migration when an applied one was edited.
int apply(pqxx::connection& conn, std::ostream& out);
std::vector<Status> status(pqxx::connection& conn);
// True when the database has at least the embedded migrations (cheap; for /readyz).
bool is_current(pqxx::connection& conn);

}  // namespace gabe::migrations
