#include "gabe/service.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <mutex>

#include "gabe/log.hpp"
#include "gabe/migrations.hpp"
#include "platform_queries.hpp"

namespace gabe {

namespace {

// The server's settings from the table; the fixed timeouts keep ServerOptions' values.
http::ServerOptions server_options(const config::Settings& settings) {
  http::ServerOptions o;
  o.listen = settings.endpoint("GABE_LISTEN");
  o.io_threads = static_cast<int>(settings.integer("GABE_HTTP_IO_THREADS"));
  o.workers = static_cast<int>(settings.integer("GABE_HTTP_WORKERS"));
  o.body_limit = static_cast<std::size_t>(settings.integer("GABE_HTTP_BODY_LIMIT"));
  o.header_limit = static_cast<std::size_t>(settings.integer("GABE_HTTP_HEADER_LIMIT"));
  o.read_timeout = std::chrono::seconds(settings.integer("GABE_HTTP_READ_TIMEOUT"));
  o.max_connections = static_cast<std::size_t>(settings.integer("GABE_HTTP_MAX_CONNECTIONS"));
  // Unset, the default fits the file limit: connections must leave room for the database
  // pool and the files the process opens, or accept fails with EMFILE and new clients wait.
  // A value set explicitly is taken as given.
  const char* set = std::getenv("GABE_HTTP_MAX_CONNECTIONS");
  if (set == nullptr || *set == '\0') {
    const auto reserve = 64 + static_cast<std::size_t>(settings.integer("GABE_DB_POOL_SIZE"));
    o.max_connections = std::min(o.max_connections, http::connections_for_file_limit(reserve));
  }
  return o;
}

// The connection pool's state as metrics, read at each scrape: how full the pool is
// (gabe_db_pool_connections by state against gabe_db_pool_max_connections), who waits for a
// connection, and how many waits ended in a 503 because none came free in time.
class PoolMetrics {
 public:
  PoolMetrics(Metrics& metrics, db::Pool& pool)
      : pool_(pool),
        connections_(metrics.gauge("gabe_db_pool_connections",
                                   "Open database connections of the pool, by state: in_use "
                                   "(leased or being opened) or idle",
                                   {"state"})),
        max_connections_(metrics.gauge("gabe_db_pool_max_connections",
                                       "Most connections the pool opens (GABE_DB_POOL_SIZE)", {})),
        waiting_(metrics.gauge("gabe_db_pool_waiting_requests",
                               "Requests waiting for a free database connection", {})),
        timeouts_(metrics.counter("gabe_db_pool_acquire_timeouts_total",
                                  "Waits for a database connection that ended in a 503 because "
                                  "none came free in time",
                                  {})) {
    timeouts_.add({}, 0);
    update();
  }

  // Called before each scrape's serialisation; scrapes may come from several I/O threads.
  void update() {
    const db::PoolStats s = pool_.stats();
    std::lock_guard lock(mutex_);
    connections_.set({"in_use"}, static_cast<double>(s.open - s.idle));
    connections_.set({"idle"}, static_cast<double>(s.idle));
    max_connections_.set({}, static_cast<double>(s.size));
    waiting_.set({}, static_cast<double>(s.waiting));
    timeouts_.add({}, static_cast<double>(s.acquire_timeouts - timeouts_seen_));
    timeouts_seen_ = s.acquire_timeouts;
  }

 private:
  db::Pool& pool_;
  Gauge connections_;
  Gauge max_connections_;
  Gauge waiting_;
  Counter timeouts_;
  std::mutex mutex_;
  std::uint64_t timeouts_seen_ = 0;
};

std::string help_text(const ServiceSpec& spec, const config::SettingsTable& table) {
  return "Usage: gabe-" + spec.name + " [--help]\n\n" + spec.help +
         "\nEnvironment (an empty variable counts as unset):\n" + config::help_text(table) +
         "\nEndpoints common to every service: GET /healthz, GET /readyz, GET /metrics, GET "
         "/v1/audit.\n";
}

http::Response list_audit(ServiceContext& ctx, const http::Request& req) {
  const auto page = Page::of(req);
  const auto action = req.query_text("action");
  const auto entity = req.query_text("entity");
  return ctx.pool.run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    return paged_list(tx, sql::kAuditList, page, ctx.service, action, entity);
  });
}

}  // namespace

void record_audit(pqxx::transaction_base& tx, const std::string& service, const std::string& actor,
                  const std::string& action, const std::string& entity,
                  const std::string& details_json) {
  // The one writer of audit rows, shared with SQL (migrations/functions/gabe/record_audit.sql).
  tx.exec_params("SELECT gabe.record_audit($1, $2, $3, $4, $5::jsonb)", service, actor, action,
                 entity, details_json);
}

std::int64_t parse_id(std::string_view text) {
  if (text.empty() || text.size() > 18) throw not_found("No such resource.");
  std::int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') throw not_found("No such resource.");
    v = v * 10 + (c - '0');
  }
  if (v == 0) throw not_found("No such resource.");
  return v;
}

config::SettingsTable common_settings(std::uint16_t default_port, long default_workers,
                                      long default_pool_size) {
  using namespace config;
  return {
      text_setting("GABE_DATABASE_URL", "", "libpq URI or conninfo of the database"),
      endpoint_setting("GABE_LISTEN", "127.0.0.1:" + std::to_string(default_port),
                       "host:port to listen on; the host an IP address or localhost"),
      choice_setting("GABE_LOG_LEVEL", "info", {"debug", "info", "warn", "error"},
                     "least level logged, as JSON lines on stderr"),
      integer_setting("GABE_HTTP_WORKERS", default_workers, 1, 512,
                      "worker threads that run handlers"),
      integer_setting("GABE_HTTP_IO_THREADS", 1, 1, 64, "I/O threads"),
      integer_setting("GABE_HTTP_BODY_LIMIT", 1 << 20, 1024, 64 << 20,
                      "largest request body in bytes"),
      integer_setting("GABE_HTTP_HEADER_LIMIT", 8 << 10, 1024, 64 << 10,
                      "largest request header in bytes"),
      integer_setting("GABE_HTTP_READ_TIMEOUT", 15, 1, 3600,
                      "seconds a client has to send a request"),
      integer_setting("GABE_HTTP_MAX_CONNECTIONS", 2048, 1, 100000,
                      "open connections at most; unset, also at most the file limit minus "
                      "GABE_DB_POOL_SIZE minus 64"),
      integer_setting("GABE_DB_POOL_SIZE", default_pool_size, 1, 500,
                      "database connections at most"),
  };
}

int run_service(int argc, char** argv, const ServiceSpec& spec) {
  const std::string binary = "gabe-" + spec.name;
  auto table = common_settings(spec.default_port, spec.default_workers, spec.default_pool_size);
  table.insert(table.end(), spec.settings.begin(), spec.settings.end());
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << help_text(spec, table);
      return 0;
    }
    std::cerr << binary << ": unknown argument '" << arg << "' (see --help)\n";
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  try {
    const auto settings = config::Settings::from_env(std::move(table));
    log::init(spec.name, settings.text("GABE_LOG_LEVEL"));
    const auto options = server_options(settings);
    const std::string& url = settings.text("GABE_DATABASE_URL");
    if (char* error = nullptr; PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &error)) {
      PQconninfoFree(parsed);
    } else {
      // libpq's message may quote the URL, password included: it is not printed.
      PQfreemem(error);
      throw ConfigError("GABE_DATABASE_URL is not a libpq URI or conninfo");
    }
    db::Pool pool(url, static_cast<std::size_t>(settings.integer("GABE_DB_POOL_SIZE")),
                  spec.on_connect);
    Metrics metrics(spec.name);
    PoolMetrics pool_metrics(metrics, pool);
    auth::TokenAuthenticator authenticator(pool);
    http::Router router;
    ServiceContext ctx{spec.name, settings, pool, router, metrics, authenticator};
    http::Server* server_ptr = nullptr;

    // Health and metrics are answered on the I/O thread: a stalled database that blocks every
    // worker must not make them time out.
    router.add_on_io_thread(http::Method::get, "/healthz", [](http::Request&) {
      return http::json_response(200, R"({"status":"ok"})");
    });
    router.add(http::Method::get, "/readyz", std::nullopt, [&](http::Request&) {
      if (server_ptr && server_ptr->draining())
        throw service_unavailable("The service is shutting down.", 1);
      bool current = false;
      try {
        current = pool.run([](pqxx::connection& c) { return migrations::is_current(c); }, 1);
      } catch (...) {
        throw service_unavailable("The database is not available.", 2);
      }
      if (!current)
        throw service_unavailable("The database schema is not at the expected migration.", 5);
      return http::json_response(200, R"({"status":"ready"})");
    });
    router.add_on_io_thread(http::Method::get, "/metrics", [&](http::Request&) {
      http::Response r;
      r.content_type = "text/plain; version=0.0.4; charset=utf-8";
      pool_metrics.update();
      r.body = metrics.serialize();
      return r;
    });
    router.add(http::Method::get, "/v1/audit", Role::admin,
               [&](http::Request& req) { return list_audit(ctx, req); });
    spec.register_routes(ctx);

    http::Server server(
        options, router, [&](http::Request& r, Role role) { authenticator.authenticate(r, role); },
        [&](const http::Request& r, int status, double seconds) {
          metrics.observe_request(r, status, seconds);
        });
    server_ptr = &server;
    log::info("listening",
              {{"host", options.listen.host}, {"port", static_cast<int>(server.port())}});
    server.run();
    log::info("stopped");
    return 0;
  } catch (const ConfigError& e) {
    std::cerr << binary << ": configuration error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << binary << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace gabe
