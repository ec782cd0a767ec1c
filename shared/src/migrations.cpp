#include "gabe/migrations.hpp"

#include <map>
#include <stdexcept>

#include "gabe/crypto.hpp"

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
GRANT USAGE ON SCHEMA gabe_meta TO PUBLIC;
GRANT SELECT ON gabe_meta.schema_migrations TO PUBLIC;
)sql";

// Serialises concurrent `gabectl migrate` runs (e.g. two Kubernetes Jobs).
constexpr long long kLockKey = 0x6761626500000001LL;

}  // namespace

int latest_version() {
  return embedded().empty() ? 0 : embedded().back().version;
}

std::string checksum(const Migration& m) {
  return crypto::hex(crypto::sha256(m.sql));
}

int apply(pqxx::connection& conn, std::ostream& out) {
  {
    pqxx::nontransaction tx(conn);
    tx.exec_params("SELECT pg_advisory_lock($1)", kLockKey);
  }
  int applied = 0;
  try {
    {
      pqxx::work tx(conn);
      tx.exec(kCreateMeta);
      tx.commit();
    }
    std::map<int, std::string> done;
    {
      pqxx::nontransaction tx(conn);
      for (const auto& row : tx.exec("SELECT version, checksum FROM gabe_meta.schema_migrations")) {
        done[row[0].as<int>()] = row[1].c_str();
      }
    }
    for (const auto& m : embedded()) {
      auto it = done.find(m.version);
      const std::string sum = checksum(m);
      if (it != done.end()) {
        if (it->second != sum) {
          throw std::runtime_error(
              "migration " + std::to_string(m.version) + "_" + m.name +
              " was changed after it was applied (checksum mismatch); add a new "
              "migration instead");
        }
        continue;
      }
      pqxx::work tx(conn);
      tx.exec(m.sql);
      tx.exec_params(
          "INSERT INTO gabe_meta.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
          m.version, std::string(m.name), sum);
      tx.commit();
      out << "applied " << m.version << "_" << m.name << "\n";
      ++applied;
    }
  } catch (...) {
    pqxx::nontransaction tx(conn);
    tx.exec_params("SELECT pg_advisory_unlock($1)", kLockKey);
    throw;
  }
  pqxx::nontransaction tx(conn);
  tx.exec_params("SELECT pg_advisory_unlock($1)", kLockKey);
  return applied;
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

bool is_current(pqxx::connection& conn) {
  pqxx::nontransaction tx(conn);
  auto rows = tx.exec("SELECT COALESCE(max(version), 0) FROM gabe_meta.schema_migrations");
  // A database ahead of this binary (a newer release migrated first) is still compatible:
  // migrations only ever add, so that old and new pods can run side by side during a rollout.
  return rows[0][0].as<int>() >= latest_version();
}

}  // namespace gabe::migrations
