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

// Registers `name` (lower-case letters, digits, '-' and '_', at most 63 bytes) read with
// `adapter`, with the opt-in groups `optin` (civicrm only), and gives it a first secret,
// returned here and never again. Throws 422 for a bad name, an adapter sources cannot use or
// bad opt-in groups, 409 when the source exists.
std::string add_source(pqxx::transaction_base& tx, const std::string& name,
                       std::string_view adapter, const std::string& actor,
                       const OptInGroupChanges& optin = {});

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
