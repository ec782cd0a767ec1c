// The database schema, embedded at build time from migrations/ (cmake/EmbedMigrations.cmake):
// numbered migrations (migrations/NNNN_name.sql), applied once each in order and recorded with
// a checksum — an applied one whose text changed is an error; and function files
// (migrations/functions/<schema>/<name>.sql), re-applied whenever their text changes.
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

struct FunctionFile {
  const char* name;  // "<schema>.<function>"
  const char* path;  // "migrations/functions/<schema>/<function>.sql", for messages
  const char* sql;
};

const std::vector<Migration>& embedded();
const std::vector<FunctionFile>& embedded_functions();
int latest_version();
std::string checksum(const Migration& m);
std::string checksum(const FunctionFile& f);

struct Status {
  int version;
  std::string name;
  bool applied;
  std::string applied_at;
  bool checksum_matches;
};

struct FunctionStatus {
  std::string name;
  std::string state;  // "applied", "pending" (never applied) or "changed" (to be re-applied)
  std::string applied_at;
};

// Under an advisory lock and in one transaction: applies the missing numbered migrations in
// order, then every function file whose checksum differs from the recorded one; prints one
// line per applied file and returns their number. A database ahead of the binary (migrated by
// a newer release) keeps its functions: they are not put back to this binary's text. Throws
// std::runtime_error naming the file when an applied migration was edited or a file fails
// (nothing is applied then).
int apply(pqxx::connection& conn, std::ostream& out);
std::vector<Status> status(pqxx::connection& conn);
std::vector<FunctionStatus> function_status(pqxx::connection& conn);
// For /readyz (cheap): the database has at least the embedded numbered migrations, and every
// embedded function file has been applied (in this text or another release's, see
// docs/architecture.md "Migrations").
bool is_current(pqxx::connection& conn);

}  // namespace gabe::migrations
