// Webhook sources and their signing secrets: registering a source, rotating its secret and
// retiring the old ones. Each call writes its audit entry (service "ingest") inside the
// caller's transaction. The service reads the current secrets with load_sources()
// (event_store.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

namespace gabe::ingest {

// Opt-in groups as given on the command line: channel (email, phone, sms) → CiviCRM group id,
// or no id to remove the channel's group.
using OptInGroupChanges = std::map<std::string, std::optional<std::int64_t>>;

// Reads "CHANNEL=GROUP" values (`--optin-group email=12`; "sms=" removes). Throws 422 naming
// the bad value, also for a channel given twice.
OptInGroupChanges parse_optin_groups(const std::vector<std::string>& specs);

// A source that gabe-ingest fetches from CiviCRM itself (spec/api.md "CiviCRM connector
// (pull)"): the site's APIv4 REST base and its API key.
struct PullConfig {
  std::string url;      // e.g. https://crm.example.org/civicrm/ajax/api4
  std::string api_key;  // sent as X-Civi-Auth; never logged, never printed
};

// Throws 422 naming the field when the URL is not an http(s) APIv4 base or the key is empty,
// too long or has characters a header cannot carry.
void validate_pull_config(const std::optional<std::string>& url,
                          const std::optional<std::string>& api_key);

// Registers `name` (lower-case letters, digits, '-' and '_', at most 63 bytes) read with
// `adapter`, with the opt-in groups `optin` (civicrm only). A webhook source gets a first
// secret, returned here and never again; a pull source (`pull`, civicrm only) gets none (""
// is returned) and is fetched by gabe-ingest. Throws 422 for a bad name, an adapter sources
// cannot use, bad opt-in groups or a bad pull configuration, 409 when the source exists.
std::string add_source(pqxx::transaction_base& tx, const std::string& name,
                       std::string_view adapter, const std::string& actor,
                       const OptInGroupChanges& optin = {},
                       const std::optional<PullConfig>& pull = std::nullopt);

// Sets or changes the URL and/or API key of the civicrm source `name`; a source without a
// pull configuration needs both. Throws 404 for an unknown source, 422 for another adapter or
// a bad value.
void set_source_pull(pqxx::transaction_base& tx, const std::string& name,
                     const std::optional<std::string>& url,
                     const std::optional<std::string>& api_key, const std::string& actor);

// Changes the opt-in groups of the civicrm source `name` and returns all it has now (channel →
// group id). Throws 404 for an unknown source, 422 for another adapter or when two channels
// would share a group (a GroupContact body must name one channel).
std::map<std::string, std::int64_t> set_source_optin_groups(pqxx::transaction_base& tx,
                                                            const std::string& name,
                                                            const OptInGroupChanges& changes,
                                                            const std::string& actor);

// Adds a new secret to `name` and returns it; the older ones stay valid. Throws 404 for an
// unknown source.
std::string rotate_source_secret(pqxx::transaction_base& tx, const std::string& name,
                                 const std::string& actor);

// Retires every current secret of `name` but the newest; returns how many. Throws 404 for an
// unknown source.
std::size_t retire_old_source_secrets(pqxx::transaction_base& tx, const std::string& name,
                                      const std::string& actor);

}  // namespace gabe::ingest
