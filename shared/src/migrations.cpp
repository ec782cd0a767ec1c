#include "gabe/migrations.hpp"

#include <map>
#include <stdexcept>

#include "gabe/crypto.hpp"
#include "gabe/db.hpp"

namespace gabe::migrations {

namespace {

constexpr const char* kCreateMeta = R"sql(
CREATE SCHEMA IF NOT EXISTS gabe_meta;
CREATE TABLE IF NOT EXISTS gabe_meta.schema_migrations (
  version     integer PRIMARY KEY,
  name        text NOT NULL,
  checksum    text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS gabe_meta.schema_functions (
  name        text PRIMARY KEY,
  checksum    text NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now()
);
GRANT USAGE ON SCHEMA gabe_meta TO PUBLIC;
GRANT SELECT ON gabe_meta.schema_migrations, gabe_meta.schema_functions TO PUBLIC;
)sql";

// Serialises concurrent `gabectl migrate` runs (e.g. two Kubernetes Jobs).
constexpr long long kLockKey = 0x6761626500000001LL;

// Migrations rewritten in place before any deployment depended on them: a database migrated
// by the old text cannot be upgraded, and says so instead of a bare checksum mismatch.
struct Squash {
  int version;
  const char* note;
};
constexpr Squash kSquashed[] = {
    {2,
     "0002_ingest and 0003_ingest_typed_batches were squashed into one 0002_ingest before any "
     "deployment depended on them, and this database was migrated by the old pair; it cannot "
     "be upgraded in place. A development database of ./run up: delete .gabe/ and run "
     "./run up again"},
};

std::string label(const Migration& m) {
  std::string n = std::to_string(m.version);
  return std::string(n.size() < 4 ? 4 - n.size() : 0, '0') + n + "_" + m.name;
}

std::string changed_message(const Migration& m) {
  for (const auto& s : kSquashed) {
    if (s.version == m.version) return "migration " + label(m) + ": " + s.note;
  }
  return "migration " + label(m) +
         " was changed after it was applied (checksum mismatch); add a new migration instead";
}

void unlock(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  tx.exec_params("SELECT pg_advisory_unlock($1)", kLockKey);
}

// Everything inside the caller's transaction; returns one line per applied file, to print once
// it committed, and sets `note` when function files were left alone.
std::vector<std::string> apply_in(pqxx::work& tx, std::string* note) {
  std::vector<std::string> lines;
  tx.exec(kCreateMeta);

  std::map<int, std::string> done;
  for (const auto& row : tx.exec("SELECT version, checksum FROM gabe_meta.schema_migrations")) {
    done[row[0].as<int>()] = row[1].c_str();
  }
  for (const auto& m : embedded()) {
    const std::string sum = checksum(m);
    if (auto it = done.find(m.version); it != done.end()) {
      if (it->second != sum) throw std::runtime_error(changed_message(m));
      continue;
    }
    try {
      tx.exec(m.sql);
    } catch (const pqxx::sql_error& e) {
      throw std::runtime_error("migration migrations/" + label(m) + ".sql failed: " + e.what());
    }
    tx.exec_params(
        "INSERT INTO gabe_meta.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
        m.version, std::string(m.name), sum);
    lines.push_back("applied " + std::to_string(m.version) + "_" + m.name);
  }

  // A newer release's functions may rely on its newer schema: an older binary leaves them be
  // (as it leaves the newer migrations), instead of putting its own older text back.
  if (!done.empty() && done.rbegin()->first > latest_version()) {
    *note = "function files left as they are: the database is at version " +
            std::to_string(done.rbegin()->first) + ", newer than this binary's " +
            std::to_string(latest_version());
    return lines;
  }
  std::map<std::string, std::string> current;
  for (const auto& row : tx.exec("SELECT name, checksum FROM gabe_meta.schema_functions")) {
    current[row[0].c_str()] = row[1].c_str();
  }
  for (const auto& f : embedded_functions()) {
    const std::string sum = checksum(f);
    if (auto it = current.find(f.name); it != current.end() && it->second == sum) continue;
    try {
      tx.exec(f.sql);
    } catch (const pqxx::sql_error& e) {
      throw std::runtime_error("function file " + std::string(f.path) + " failed: " + e.what());
    }
    tx.exec_params(
        "INSERT INTO gabe_meta.schema_functions AS f (name, checksum) VALUES ($1, $2) "
        "ON CONFLICT (name) DO UPDATE SET checksum = excluded.checksum, applied_at = now()",
        std::string(f.name), sum);
    lines.push_back("applied function " + std::string(f.name));
  }
  return lines;
}

}  // namespace

int latest_version() {
  return embedded().empty() ? 0 : embedded().back().version;
}

std::string checksum(const Migration& m) {
  return crypto::hex(crypto::sha256(m.sql));
}

std::string checksum(const FunctionFile& f) {
  return crypto::hex(crypto::sha256(f.sql));
}

int apply(pqxx::connection& conn, std::ostream& out) {
  {
    pqxx::nontransaction tx(conn);
    tx.exec_params("SELECT pg_advisory_lock($1)", kLockKey);
  }
  std::vector<std::string> lines;
  std::string note;
  try {
    pqxx::work tx(conn);
    lines = apply_in(tx, &note);
    tx.commit();
  } catch (...) {
    unlock(conn);
    throw;
  }
  unlock(conn);
  for (const auto& line : lines) out << line << "\n";
  if (!note.empty()) out << note << "\n";
  return static_cast<int>(lines.size());
}

std::vector<Status> status(pqxx::connection& conn) {
  std::map<int, std::pair<std::string, std::string>> done;
  {
    pqxx::nontransaction tx(conn);
    auto exists = tx.exec("SELECT to_regclass('gabe_meta.schema_migrations') IS NOT NULL");
    if (exists[0][0].as<bool>()) {
      for (const auto& row :
           tx.exec("SELECT version, checksum, applied_at::text FROM gabe_meta.schema_migrations")) {
        done[row[0].as<int>()] = {row[1].c_str(), row[2].c_str()};
      }
    }
  }
  std::vector<Status> out;
  for (const auto& m : embedded()) {
    auto it = done.find(m.version);
    if (it == done.end()) {
      out.push_back({m.version, m.name, false, "", true});
    } else {
      out.push_back({m.version, m.name, true, it->second.second, it->second.first == checksum(m)});
    }
  }
  return out;
}

std::vector<FunctionStatus> function_status(pqxx::connection& conn) {
  std::map<std::string, std::pair<std::string, std::string>> current;
  {
    pqxx::nontransaction tx(conn);
    auto exists = tx.exec("SELECT to_regclass('gabe_meta.schema_functions') IS NOT NULL");
    if (exists[0][0].as<bool>()) {
      for (const auto& row :
           tx.exec("SELECT name, checksum, applied_at::text FROM gabe_meta.schema_functions")) {
        current[row[0].c_str()] = {row[1].c_str(), row[2].c_str()};
      }
    }
  }
  std::vector<FunctionStatus> out;
  for (const auto& f : embedded_functions()) {
    auto it = current.find(f.name);
    if (it == current.end()) {
      out.push_back({f.name, "pending", ""});
    } else {
      out.push_back(
          {f.name, it->second.first == checksum(f) ? "applied" : "changed", it->second.second});
    }
  }
  return out;
}

bool is_current(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  // A database ahead of this binary (a newer release migrated first) is still compatible:
  // migrations only ever add, so that old and new pods can run side by side during a rollout.
  // For the same reason a function file counts once it was applied at all: its text may be a
  // newer release's, which must keep serving the older one's callers.
  auto meta = tx.exec(
      "SELECT (SELECT COALESCE(max(version), 0) FROM gabe_meta.schema_migrations), "
      "to_regclass('gabe_meta.schema_functions') IS NOT NULL");
  if (meta[0][0].as<int>() < latest_version()) return false;
  if (embedded_functions().empty()) return true;
  if (!meta[0][1].as<bool>()) return false;
  static const std::string names = [] {
    db::ArrayLiteral a;
    for (const auto& f : embedded_functions()) a.add(std::string_view(f.name));
    return a.take();
  }();
  auto applied = tx.exec_params(
      "SELECT count(*) FROM gabe_meta.schema_functions WHERE name = ANY($1::text[])", names);
  return applied[0][0].as<std::size_t>() == embedded_functions().size();
}

}  // namespace gabe::migrations
