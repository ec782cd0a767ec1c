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

std::string add_source(pqxx::transaction_base& tx, const std::string& name,
                       std::string_view adapter, const std::string& actor,
                       const OptInGroupChanges& optin) {
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
  if (source_exists(tx, name))
    throw conflict("Source '" + name + "' exists already (rotate its secret instead).");
  tx.exec_params(kInsertSource, name, std::string(adapter));
  const auto groups = write_optin_groups(tx, name, optin);
  auto secret = new_secret(tx, name);
  JsonWriter d;
  d.begin_object().field("adapter", adapter);
  if (adapter == "civicrm") d.key("optin_groups").raw(optin_json(groups));
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
