// The HTTP layer's interface. Boost.Beast stays inside server.cpp; handlers see only these
// plain types, so that they compile fast and tests can call them without a socket.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gabe/config.hpp"
#include "gabe/problem.hpp"

namespace gabe {

enum class Role { viewer = 0, fundraiser = 1, admin = 2 };
std::string_view role_name(Role role);
std::optional<Role> parse_role(std::string_view text);

namespace http {

enum class Method { get, head, post, put, patch, del, other };
Method parse_method(std::string_view text);
std::string_view method_name(Method m);

using Headers = std::vector<std::pair<std::string, std::string>>;  // names in lower case

struct Request {
  Method method = Method::other;
  std::string target;  // as sent
  std::string path;    // without the query, percent-decoded per segment by the router
  std::vector<std::pair<std::string, std::string>> query;
  Headers headers;
  std::string body;
  std::string route;  // the matched route template, e.g. "/v1/donors/{id}"
  std::vector<std::pair<std::string, std::string>> params;
  // Set by authentication.
  std::string actor;
  Role role = Role::viewer;

  std::optional<std::string_view> header(std::string_view lower_name) const;
  std::optional<std::string_view> query_param(std::string_view name) const;
  std::string_view param(std::string_view name) const;
  Language language() const;

  // Query-string parameters, checked as they are read: a bad value throws a 422 whose field
  // error names the parameter. A parameter given with an empty value counts as given.
  std::optional<std::string> query_text(std::string_view name, std::size_t max_bytes = 1024) const;
  std::string required_query_text(std::string_view name, std::size_t max_bytes = 1024) const;
  std::optional<std::int64_t> query_int(std::string_view name, std::int64_t min,
                                        std::int64_t max) const;
  // One of `allowed`, spelled exactly.
  std::optional<std::string> query_enum(std::string_view name,
                                        std::span<const std::string_view> allowed) const;
  std::optional<std::string> query_enum(std::string_view name,
                                        std::initializer_list<std::string_view> allowed) const {
    return query_enum(name, std::span<const std::string_view>(allowed.begin(), allowed.size()));
  }
  // true/false (also 1/0).
  std::optional<bool> query_bool(std::string_view name) const;

  // Whether Content-Type is this media type ("type/subtype", case-insensitive); parameters
  // such as charset are ignored, so "application/json; charset=utf-8" is application/json
  // and "application/json-seq" is not.
  bool has_media_type(std::string_view type) const;
  // Throws 415 unless has_media_type(type).
  void require_media_type(std::string_view type) const;
  void require_json() const { require_media_type("application/json"); }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  Headers headers;
};

Response json_response(int status, std::string body);
Response problem_response(const Problem& problem, Language lang);

// The body of a request whose route streams it: read() returns 0 at the end, throws a
// Problem (400/408/413) when the client misbehaves.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  virtual std::size_t read(char* buffer, std::size_t size) = 0;
};

using Handler = std::function<Response(Request&)>;
using StreamHandler = std::function<Response(Request&, BodyStream&)>;

struct Route {
  Method method;
  std::string pattern;
  std::optional<Role> min_role;  // nullopt: no bearer token required
  Handler handler;
  StreamHandler stream_handler;  // set for routes that stream their body
  std::vector<std::string> segments;
  bool on_io_thread = false;  // answered on the I/O thread, never queued behind the workers
};

class Router {
 public:
  void add(Method method, std::string pattern, std::optional<Role> min_role, Handler handler);
  void add_streaming(Method method, std::string pattern, std::optional<Role> min_role,
                     StreamHandler handler);
  // A route answered on the I/O thread itself (health, metrics): it never waits for a worker
  // that may be blocked on the database. Its handler must never block; it needs no token.
  void add_on_io_thread(Method method, std::string pattern, Handler handler);
  // Finds the route for the request, fills request.route and request.params.
  // Throws 404 for an unknown path and 405 for a known path with another method.
  const Route& match(Request& request) const;

 private:
  std::vector<Route> routes_;
};

// Called before a route's handler with its minimum role; throws 401/403.
using Authenticator = std::function<void(Request&, Role)>;
// Called after every response (for metrics); route is the template or "unmatched".
using Observer = std::function<void(const Request&, int status, double seconds)>;

// Configured values are set by run_service from the settings table (common_settings), where
// their defaults live; the rest are fixed.
struct ServerOptions {
  Endpoint listen;
  int io_threads = 0;
  int workers = 0;
  std::size_t body_limit = 0;
  std::size_t header_limit = 0;
  std::chrono::seconds read_timeout{0};
  std::chrono::seconds write_timeout{15};
  std::chrono::seconds idle_timeout{60};
  std::size_t max_connections = 0;
  std::chrono::seconds drain_timeout{10};
  // Chunk framing (sizes, extensions, CRLFs, trailers) a request may carry beyond a quarter of
  // its body; one chunk line or trailer must also fit in a read buffer of header_limit + 16 KiB.
  std::size_t chunk_metadata_limit = 64 << 10;
  // How long accepting pauses when the process is out of file descriptors (EMFILE/ENFILE).
  std::chrono::milliseconds accept_backoff{50};
};

// Connections the process's file limit leaves room for: RLIMIT_NOFILE minus `reserve` (at
// least 16). Raises the soft limit to the hard one first.
std::size_t connections_for_file_limit(std::size_t reserve);

class Server {
 public:
  Server(ServerOptions options, const Router& router, Authenticator authenticate, Observer observe);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  std::uint16_t port() const;
  // Serves until SIGTERM/SIGINT: then stops accepting, lets in-flight requests finish (up to
  // drain_timeout) and returns.
  void run();
  bool draining() const;

  struct Impl;  // in server.cpp, with the sessions that use it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace http
}  // namespace gabe
