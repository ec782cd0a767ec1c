#include "gabe/service.hpp"

#include <libpq-fe.h>

#include <csignal>
#include <iostream>

#include "gabe/json.hpp"
#include "gabe/log.hpp"
#include "gabe/migrations.hpp"

namespace gabe {

namespace {

constexpr const char* kCommonHelp = R"(
Environment:
  GABE_DATABASE_URL        libpq URI or conninfo of the database (required)
  GABE_LISTEN              host:port to listen on (default 127.0.0.1:%PORT%)
  GABE_LOG_LEVEL           debug, info, warn or error (default info); JSON lines on stderr
  GABE_HTTP_WORKERS        worker threads for request handling (default 64)
  GABE_HTTP_IO_THREADS     I/O threads (default 1)
  GABE_HTTP_BODY_LIMIT     largest accepted request body in bytes (default 1048576)
  GABE_HTTP_HEADER_LIMIT   largest accepted request header in bytes (default 8192)
  GABE_HTTP_READ_TIMEOUT   seconds a client has to send a request (default 15)
  GABE_HTTP_MAX_CONNECTIONS  open connections at most (default: the file limit minus
                           GABE_DB_POOL_SIZE minus 64, at most 2048); idle keep-alive
                           connections are closed first to make room
  GABE_DB_POOL_SIZE        database connections at most (default 16)

Endpoints common to every service: GET /healthz, GET /readyz, GET /metrics, GET /v1/audit.
)";

void list_audit(ServiceContext& ctx, http::Request& req, http::Response& res) {
  auto page = parse_page(req);
  auto action = req.query_param("action");
  auto entity = req.query_param("entity");
  res.body = ctx.pool.run([&](pqxx::connection& c) {
    pqxx::nontransaction tx(c);
    auto rows = tx.exec_params(
        "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"'), actor, "
        "action, entity, "
        "details::text FROM gabe.audit_log "
        "WHERE service = $1 AND ($2::text IS NULL OR action = $2) AND ($3::text IS NULL OR entity "
        "= $3) "
        "AND ($4::bigint IS NULL OR id < $4) ORDER BY id DESC LIMIT $5",
        ctx.service, action ? std::optional<std::string>(std::string(*action)) : std::nullopt,
        entity ? std::optional<std::string>(std::string(*entity)) : std::nullopt, page.after,
        page.limit + 1);
    JsonWriter w;
    w.begin_object().key("items").begin_array();
    std::optional<std::int64_t> last;
    for (std::size_t i = 0; i < rows.size() && static_cast<long>(i) < page.limit; ++i) {
      const auto& r = rows[i];
      last = r[0].as<std::int64_t>();
      w.begin_object();
      w.field("id", std::string(r[0].c_str()));
      w.field("at", std::string(r[1].c_str()));
      w.field("actor", std::string(r[2].c_str()));
      w.field("action", std::string(r[3].c_str()));
      w.field("entity", std::string(r[4].c_str()));
      w.key("details").raw(r[5].c_str());
      w.end_object();
    }
    w.end_array();
    w.key("next");
    if (static_cast<long>(rows.size()) > page.limit && last) {
      w.value(std::to_string(*last));
    } else {
      w.null();
    }
    w.end_object();
    return w.take();
  });
}

}  // namespace

void record_audit(pqxx::transaction_base& tx, const std::string& service, const std::string& actor,
                  const std::string& action, const std::string& entity,
                  const std::string& details_json) {
  tx.exec_params(
      "INSERT INTO gabe.audit_log (service, actor, action, entity, details) VALUES ($1, $2, $3, "
      "$4, $5::jsonb)",
      service, actor, action, entity, details_json);
}

Page parse_page(const http::Request& request) {
  Page page;
  if (auto limit = request.query_param("limit")) {
    char* end = nullptr;
    std::string s(*limit);
    long n = std::strtol(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || n < 1 || n > 1000) {
      throw unprocessable("Invalid paging.", {{"limit", "must be a whole number from 1 to 1000"}});
    }
    page.limit = n;
  }
  if (auto after = request.query_param("after")) {
    char* end = nullptr;
    std::string s(*after);
    long long n = std::strtoll(s.c_str(), &end, 10);
    if (s.empty() || *end != '\0' || n < 1) {
      throw unprocessable("Invalid paging.", {{"after", "is not a cursor returned by this list"}});
    }
    page.after = n;
  }
  return page;
}

void require_json(const http::Request& request) {
  auto ct = request.header("content-type");
  if (!ct || ct->substr(0, 16) != "application/json") {
    throw unsupported_media_type("The body must be application/json.");
  }
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

int run_service(int argc, char** argv, const ServiceSpec& spec) {
  const std::string binary = "gabe-" + spec.name;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::string common = kCommonHelp;
      common.replace(common.find("%PORT%"), 6, std::to_string(spec.default_port));
      std::cout << "Usage: " << binary << " [--help]\n\n" << spec.help << common;
      return 0;
    }
    std::cerr << binary << ": unknown argument '" << arg << "' (see --help)\n";
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  try {
    log::init(spec.name);
    auto options = http::ServerOptions::from_env({"127.0.0.1", spec.default_port});
    const std::string url = config::required("GABE_DATABASE_URL");
    if (char* error = nullptr; PQconninfoOption* parsed = PQconninfoParse(url.c_str(), &error)) {
      PQconninfoFree(parsed);
    } else {
      // libpq's message may quote the URL, password included: it is not printed.
      PQfreemem(error);
      throw ConfigError("GABE_DATABASE_URL is not a libpq URI or conninfo");
    }
    const auto pool_size =
        static_cast<std::size_t>(config::get_int("GABE_DB_POOL_SIZE", 16, 1, 500));
    db::Pool pool(url, pool_size, spec.on_connect);
    Metrics metrics(spec.name);
    auth::TokenAuthenticator authenticator(pool);
    http::Router router;
    ServiceContext ctx{spec.name, pool, router, metrics, authenticator};
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
      r.body = metrics.serialize();
      return r;
    });
    router.add(http::Method::get, "/v1/audit", Role::admin, [&](http::Request& req) {
      http::Response res;
      list_audit(ctx, req, res);
      return res;
    });
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
