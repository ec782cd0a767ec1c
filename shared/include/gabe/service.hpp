// What every Gabe service has in common: configuration, logging, the database pool, token
// auth, /healthz, /readyz, /metrics, /v1/audit, and a graceful SIGTERM drain.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "gabe/auth.hpp"
#include "gabe/db.hpp"
#include "gabe/http.hpp"
#include "gabe/metrics.hpp"

namespace gabe {

struct ServiceContext {
  std::string service;
  db::Pool& pool;
  http::Router& router;
  Metrics& metrics;
  auth::TokenAuthenticator& auth;
};

struct ServiceSpec {
  std::string name;            // e.g. "ingest"
  std::uint16_t default_port;  // e.g. 8081
  std::string help;            // --help text after the common part
  db::Pool::ConnectHook on_connect;
  std::function<void(ServiceContext&)> register_routes;
};

// main() of a service: returns the process exit code.
int run_service(int argc, char** argv, const ServiceSpec& spec);

// Audit entries: written inside the caller's transaction, so that an action and its entry
// commit together.
void record_audit(pqxx::transaction_base& tx, const std::string& service, const std::string& actor,
                  const std::string& action, const std::string& entity,
                  const std::string& details_json);

// ?limit= (default 100, 1..1000) and ?after= (an opaque cursor: here a row id).
struct Page {
  long limit = 100;
  std::optional<std::int64_t> after;
};
Page parse_page(const http::Request& request);

// Requires Content-Type application/json (415 otherwise).
void require_json(const http::Request& request);
// Parses a positive integer id from a path parameter (404 when it is not one).
std::int64_t parse_id(std::string_view text);

}  // namespace gabe
