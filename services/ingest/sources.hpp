// Webhook sources and their signing secrets: registering a source, rotating its secret and
// retiring the old ones. Each call writes its audit entry (service "ingest") inside the
// caller's transaction. The service reads the current secrets with load_sources()
// (event_store.hpp).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include <pqxx/pqxx>

namespace gabe::ingest {

// Registers `name` (lower-case letters, digits, '-' and '_', at most 63 bytes) read with
// `adapter` and gives it a first secret, returned here and never again. Throws 422 for a bad
// name or an adapter sources cannot use, 409 when the source exists.
std::string add_source(pqxx::transaction_base& tx, const std::string& name,
                       std::string_view adapter, const std::string& actor);

// Adds a new secret to `name` and returns it; the older ones stay valid. Throws 404 for an
// unknown source.
std::string rotate_source_secret(pqxx::transaction_base& tx, const std::string& name,
                                 const std::string& actor);

// Retires every current secret of `name` but the newest; returns how many. Throws 404 for an
// unknown source.
std::size_t retire_old_source_secrets(pqxx::transaction_base& tx, const std::string& name,
                                      const std::string& actor);

}  // namespace gabe::ingest
