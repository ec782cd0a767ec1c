// What every Gabe service has in common: configuration, logging, the database pool, token
// auth, /healthz, /readyz, /metrics, /v1/audit, and a graceful SIGTERM drain.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "gabe/auth.hpp"
#include "gabe/config.hpp"
#include "gabe/db.hpp"
#include "gabe/http.hpp"
#include "gabe/metrics.hpp"
#include "gabe/paging.hpp"

namespace gabe {

struct ServiceContext {
  std::string service;
  const config::Settings& settings;  // the common settings and the service's own
  db::Pool& pool;
  http::Router& router;
  Metrics& metrics;
  auth::TokenAuthenticator& auth;
};

struct ServiceSpec {
  std::string name;                // e.g. "ingest"
  std::uint16_t default_port = 0;  // e.g. 8081
  // GABE_HTTP_WORKERS and GABE_DB_POOL_SIZE when unset: many for a service whose requests wait
  // on batched writes (ingest), few for one that answers short reads on few cores (scoring).
  long default_workers = 64;
  long default_pool_size = 16;
  std::string help;                // --help text before the list of settings
  config::SettingsTable settings;  // the service's own GABE_<NAME>_* settings
  db::Pool::ConnectHook on_connect;
  std::function<void(ServiceContext&)> register_routes;
};

// The settings every service reads (GABE_DATABASE_URL, GABE_LISTEN, GABE_LOG_LEVEL,
// GABE_HTTP_*, GABE_DB_POOL_SIZE); GABE_LISTEN defaults to 127.0.0.1:<default_port>.
config::SettingsTable common_settings(std::uint16_t default_port, long default_workers = 64,
                                      long default_pool_size = 16);

// main() of a service: returns the process exit code.
int run_service(int argc, char** argv, const ServiceSpec& spec);

// Audit entries: written inside the caller's transaction, so that an action and its entry
// commit together.
void record_audit(pqxx::transaction_base& tx, const std::string& service, const std::string& actor,
                  const std::string& action, const std::string& entity,
                  const std::string& details_json);

// Parses a positive integer id from a path parameter (404 when it is not one).
std::int64_t parse_id(std::string_view text);

}  // namespace gabe
