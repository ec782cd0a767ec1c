#include "sources.hpp"

#include "adapters.hpp"
#include "civicrm_api.hpp"
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
constexpr const char* kSourceAdapter = "SELECT adapter FROM ingest.sources WHERE name = $1";
constexpr const char* kOptInGroups =
    "SELECT channel, group_id FROM ingest.source_optin_groups WHERE source = $1";
constexpr const char* kDeleteOptInGroups =
    "DELETE FROM ingest.source_optin_groups WHERE source = $1";
constexpr const char* kInsertOptInGroups =
    "INSERT INTO ingest.source_optin_groups (source, channel, group_id) "
    "SELECT $1, g.key, g.value::bigint FROM jsonb_each_text($2::jsonb) g";
constexpr const char* kRetireOldSecrets =
    "UPDATE ingest.source_secrets SET retired_at = now() WHERE source = $1 AND retired_at IS NULL "
    "AND id < (SELECT max(id) FROM ingest.source_secrets WHERE source = $1)";

constexpr const char* kInsertPull =
    "INSERT INTO ingest.source_pull (source, url, api_key) VALUES ($1, $2, $3)";
constexpr const char* kInsertSyncState = "INSERT INTO ingest.sync_state (source) VALUES ($1)";
constexpr const char* kPullExists = "SELECT 1 FROM ingest.source_pull WHERE source = $1";
constexpr const char* kUpdatePull =
    "UPDATE ingest.source_pull SET url = COALESCE($2, url), api_key = COALESCE($3, api_key), "
    "updated_at = now() WHERE source = $1";

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

std::string optin_json(const std::map<std::string, std::int64_t>& groups) {
  JsonWriter w;
  w.begin_object();
  for (const auto& [channel, group] : groups) w.field(channel, group);
  w.end_object();
  return w.take();
}

// Applies `changes` to the groups stored for `name` and writes the result.
std::map<std::string, std::int64_t> write_optin_groups(pqxx::transaction_base& tx,
                                                       const std::string& name,
                                                       const OptInGroupChanges& changes) {
  std::map<std::string, std::int64_t> groups;
  for (const auto& r : tx.exec_params(kOptInGroups, name))
    groups[r[0].c_str()] = r[1].as<std::int64_t>();
  for (const auto& [channel, group] : changes) {
    if (group) {
      groups[channel] = *group;
    } else {
      groups.erase(channel);
    }
  }
  for (auto a = groups.begin(); a != groups.end(); ++a) {
    for (auto b = std::next(a); b != groups.end(); ++b) {
      if (a->second == b->second) {
        throw unprocessable("Each opt-in channel needs its own CiviCRM group.",
                            {{"optin-group", a->first + " and " + b->first + " name group " +
                                                 std::to_string(a->second)}});
      }
    }
  }
  tx.exec_params(kDeleteOptInGroups, name);
  tx.exec_params(kInsertOptInGroups, name, optin_json(groups));
  return groups;
}

}  // namespace

OptInGroupChanges parse_optin_groups(const std::vector<std::string>& specs) {
  OptInGroupChanges out;
  for (const auto& spec : specs) {
    const auto eq = spec.find('=');
    const std::string channel = spec.substr(0, eq);
    const std::string group = eq == std::string::npos ? "" : spec.substr(eq + 1);
    if (eq == std::string::npos || (channel != "email" && channel != "phone" && channel != "sms"))
      throw unprocessable("An opt-in group is CHANNEL=GROUP with channel email, phone or sms.",
                          {{"optin-group", "'" + spec.substr(0, 40) + "' is not CHANNEL=GROUP"}});
    if (out.count(channel))
      throw unprocessable("Each channel takes one opt-in group.",
                          {{"optin-group", channel + " is given twice"}});
    if (group.empty()) {
      out[channel] = std::nullopt;
      continue;
    }
    if (group.size() > 18 || group.find_first_not_of("0123456789") != std::string::npos ||
        std::stoll(group) == 0)
      throw unprocessable(
          "A CiviCRM group is named by its id, a positive number.",
          {{"optin-group", channel + "=" + group.substr(0, 20) + " is no group id"}});
    out[channel] = std::stoll(group);
  }
  return out;
}

void validate_pull_config(const std::optional<std::string>& url,
                          const std::optional<std::string>& api_key) {
  std::vector<FieldError> errors;
  if (url && (url->size() > 2000 || !civicrm::parse_api_base(*url)))
    errors.push_back({"pull",
                      "must be the APIv4 REST base, http(s)://HOST[:PORT]/PATH "
                      "(e.g. https://crm.example.org/civicrm/ajax/api4)"});
  if (api_key) {
    bool printable = !api_key->empty() && api_key->size() <= 1000;
    for (char c : *api_key) printable = printable && c > ' ' && c < 127;
    if (!printable)
      errors.push_back({"key", "must be 1 to 1000 printable characters without spaces"});
  }
  if (!errors.empty()) throw unprocessable("The CiviCRM connection is not valid.", errors);
}

std::string add_source(pqxx::transaction_base& tx, const std::string& name,
                       std::string_view adapter, const std::string& actor,
                       const OptInGroupChanges& optin, const std::optional<PullConfig>& pull) {
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
  if (!optin.empty() && adapter != "civicrm")
    throw unprocessable("Opt-in groups are CiviCRM groups: only a civicrm source has them.",
                        {{"optin-group", "needs --adapter civicrm"}});
  if (pull && adapter != "civicrm")
    throw unprocessable("Only a civicrm source can be fetched (--pull).",
                        {{"pull", "needs --adapter civicrm"}});
  if (pull) validate_pull_config(pull->url, pull->api_key);
  if (source_exists(tx, name))
    throw conflict("Source '" + name + "' exists already (rotate its secret instead).");
  tx.exec_params(kInsertSource, name, std::string(adapter));
  const auto groups = write_optin_groups(tx, name, optin);
  std::string secret;
  if (pull) {
    tx.exec_params(kInsertPull, name, pull->url, pull->api_key);
    tx.exec_params(kInsertSyncState, name);
  } else {
    secret = new_secret(tx, name);
  }
  JsonWriter d;
  d.begin_object().field("adapter", adapter);
  if (adapter == "civicrm") d.key("optin_groups").raw(optin_json(groups));
  if (pull) d.field("pull", pull->url);  // never the key
  d.end_object();
  record_audit(tx, kService, actor, "source.add", "source:" + name, d.take());
  return secret;
}

std::map<std::string, std::int64_t> set_source_optin_groups(pqxx::transaction_base& tx,
                                                            const std::string& name,
                                                            const OptInGroupChanges& changes,
                                                            const std::string& actor) {
  auto rows = tx.exec_params(kSourceAdapter, name);
  if (rows.empty()) throw not_found("No source '" + name + "'.");
  if (std::string_view(rows[0][0].c_str()) != "civicrm")
    throw unprocessable("Opt-in groups are CiviCRM groups: only a civicrm source has them.",
                        {{"optin-group", "source '" + name + "' is not a civicrm source"}});
  auto groups = write_optin_groups(tx, name, changes);
  JsonWriter d;
  d.begin_object().key("optin_groups").raw(optin_json(groups)).end_object();
  record_audit(tx, kService, actor, "source.optin_groups", "source:" + name, d.take());
  return groups;
}

void set_source_pull(pqxx::transaction_base& tx, const std::string& name,
                     const std::optional<std::string>& url,
                     const std::optional<std::string>& api_key, const std::string& actor) {
  auto rows = tx.exec_params(kSourceAdapter, name);
  if (rows.empty()) throw not_found("No source '" + name + "'.");
  if (std::string_view(rows[0][0].c_str()) != "civicrm")
    throw unprocessable("Only a civicrm source can be fetched (--pull).",
                        {{"pull", "source '" + name + "' is not a civicrm source"}});
  validate_pull_config(url, api_key);
  if (tx.exec_params(kPullExists, name).empty()) {
    if (!url || !api_key)
      throw unprocessable("A source that is not fetched yet needs both --pull URL and a key.",
                          {{url ? "key" : "pull", "is required"}});
    tx.exec_params(kInsertPull, name, *url, *api_key);
    tx.exec_params(kInsertSyncState, name);
  } else {
    tx.exec_params(kUpdatePull, name, url, api_key);
  }
  JsonWriter d;
  d.begin_object();
  if (url) d.field("pull", *url);
  d.field("key_changed", api_key.has_value()).end_object();
  record_audit(tx, kService, actor, "source.pull", "source:" + name, d.take());
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
