#include "sources.hpp"

#include "adapters.hpp"
#include "gabe/auth.hpp"
#include "gabe/json.hpp"
#include "gabe/problem.hpp"
#include "gabe/service.hpp"

namespace gabe::ingest {

namespace {

constexpr const char* kService = "ingest";

constexpr const char* kSourceExists = "SELECT 1 FROM ingest.sources WHERE name = $1";
constexpr const char* kInsertSource = "INSERT INTO ingest.sources (name, adapter) VALUES ($1, $2)";
constexpr const char* kInsertSecret =
    "INSERT INTO ingest.source_secrets (source, secret) VALUES ($1, $2)";
constexpr const char* kRetireOldSecrets =
    "UPDATE ingest.source_secrets SET retired_at = now() WHERE source = $1 AND retired_at IS NULL "
    "AND id < (SELECT max(id) FROM ingest.source_secrets WHERE source = $1)";

// The same rule as the CHECK on ingest.sources.name, so that a bad name gets a plain answer.
bool is_valid_source_name(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '_'))) return false;
  }
  return true;
}

bool source_exists(pqxx::transaction_base& tx, const std::string& name) {
  return !tx.exec_params(kSourceExists, name).empty();
}

void require_source(pqxx::transaction_base& tx, const std::string& name) {
  if (!source_exists(tx, name)) throw not_found("No source '" + name + "'.");
}

std::string new_secret(pqxx::transaction_base& tx, const std::string& name) {
  auto secret = auth::generate_webhook_secret();
  tx.exec_params(kInsertSecret, name, secret);
  return secret;
}

}  // namespace

std::string add_source(pqxx::transaction_base& tx, const std::string& name,
                       std::string_view adapter, const std::string& actor) {
  if (!is_valid_source_name(name)) {
    throw unprocessable(
        "A source name is lower-case letters, digits, '-' and '_' (at most 63 bytes).",
        {{"name", "must match ^[a-z0-9][a-z0-9_-]{0,62}$"}});
  }
  const Adapter* a = find_adapter(adapter);
  if (!a || !a->for_sources) {
    std::string names;
    for (auto n : source_adapter_names()) names += (names.empty() ? "" : ", ") + std::string(n);
    throw unprocessable("The adapter must be one of " + names + ".",
                        {{"adapter", "must be one of " + names}});
  }
  if (source_exists(tx, name))
    throw conflict("Source '" + name + "' exists already (rotate its secret instead).");
  tx.exec_params(kInsertSource, name, std::string(adapter));
  auto secret = new_secret(tx, name);
  JsonWriter d;
  d.begin_object().field("adapter", adapter).end_object();
  record_audit(tx, kService, actor, "source.add", "source:" + name, d.take());
  return secret;
}

std::string rotate_source_secret(pqxx::transaction_base& tx, const std::string& name,
                                 const std::string& actor) {
  require_source(tx, name);
  auto secret = new_secret(tx, name);
  record_audit(tx, kService, actor, "source.rotate", "source:" + name, "{}");
  return secret;
}

std::size_t retire_old_source_secrets(pqxx::transaction_base& tx, const std::string& name,
                                      const std::string& actor) {
  require_source(tx, name);
  const auto n = static_cast<std::size_t>(tx.exec_params(kRetireOldSecrets, name).affected_rows());
  JsonWriter d;
  d.begin_object().field("retired", static_cast<std::int64_t>(n)).end_object();
  record_audit(tx, kService, actor, "source.retire_old", "source:" + name, d.take());
  return n;
}

}  // namespace gabe::ingest
