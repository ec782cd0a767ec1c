#include "gabe/http.hpp"

#include <algorithm>
#include <charconv>

#include "gabe/text.hpp"

namespace gabe {

std::string_view role_name(Role role) {
  switch (role) {
    case Role::viewer:
      return "viewer";
    case Role::fundraiser:
      return "fundraiser";
    case Role::admin:
      return "admin";
  }
  return "viewer";
}

std::optional<Role> parse_role(std::string_view text) {
  if (text == "viewer") return Role::viewer;
  if (text == "fundraiser") return Role::fundraiser;
  if (text == "admin") return Role::admin;
  return std::nullopt;
}

namespace http {

namespace {

std::vector<std::string> split_path(std::string_view path) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < path.size()) {
    if (path[pos] == '/') {
      ++pos;
      continue;
    }
    auto next = path.find('/', pos);
    if (next == std::string_view::npos) next = path.size();
    out.emplace_back(path.substr(pos, next - pos));
    pos = next;
  }
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view s, bool plus_is_space) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = hex_value(s[i + 1]);
      int lo = hex_value(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out += static_cast<char>(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out += plus_is_space && s[i] == '+' ? ' ' : s[i];
  }
  return out;
}

// A percent-decoded path segment or query value must be text: otherwise 400 naming it, before
// any handler or SQL sees it (PostgreSQL would refuse it with a 500, and a NUL would cut it).
std::string decode_text(std::string_view raw, bool plus_is_space, std::string_view what,
                        std::string_view name) {
  std::string out = percent_decode(raw, plus_is_space);
  if (!is_valid_text(out)) {
    throw Problem(400, "bad-request",
                  "The " + std::string(what) + " '" + std::string(name) +
                      "' is not valid UTF-8 text (or contains NUL).",
                  {{std::string(name), "must be valid UTF-8 text without NUL"}});
  }
  return out;
}

}  // namespace

Method parse_method(std::string_view m) {
  if (m == "GET") return Method::get;
  if (m == "HEAD") return Method::head;
  if (m == "POST") return Method::post;
  if (m == "PUT") return Method::put;
  if (m == "PATCH") return Method::patch;
  if (m == "DELETE") return Method::del;
  return Method::other;
}

std::string_view method_name(Method m) {
  switch (m) {
    case Method::get:
      return "GET";
    case Method::head:
      return "HEAD";
    case Method::post:
      return "POST";
    case Method::put:
      return "PUT";
    case Method::patch:
      return "PATCH";
    case Method::del:
      return "DELETE";
    case Method::other:
      return "OTHER";
  }
  return "OTHER";
}

std::optional<std::string_view> Request::header(std::string_view lower_name) const {
  for (const auto& [k, v] : headers) {
    if (k == lower_name) return std::string_view(v);
  }
  return std::nullopt;
}

std::optional<std::string_view> Request::query_param(std::string_view name) const {
  for (const auto& [k, v] : query) {
    if (k == name) return std::string_view(v);
  }
  return std::nullopt;
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

Language Request::language() const {
  auto h = header("accept-language");
  if (!h) return Language::de;
  // The first language named decides; anything but English is answered in German.
  std::string_view v = *h;
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  return v.size() >= 2 && (v[0] == 'e' || v[0] == 'E') && (v[1] == 'n' || v[1] == 'N')
             ? Language::en
             : Language::de;
}

namespace {

Problem bad_query(std::string_view name, std::string message) {
  return unprocessable("Invalid query parameter " + std::string(name) + ".",
                       {{std::string(name), std::move(message)}});
}

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    return lower(x) == lower(y);
  });
}

}  // namespace

std::optional<std::string> Request::query_text(std::string_view name, std::size_t max_bytes) const {
  auto v = query_param(name);
  if (!v) return std::nullopt;
  if (v->size() > max_bytes)
    throw bad_query(name, "must be at most " + std::to_string(max_bytes) + " bytes");
  return std::string(*v);
}

std::string Request::required_query_text(std::string_view name, std::size_t max_bytes) const {
  auto v = query_text(name, max_bytes);
  if (!v) throw bad_query(name, "is required");
  return *v;
}

std::optional<std::int64_t> Request::query_int(std::string_view name, std::int64_t min,
                                               std::int64_t max) const {
  auto v = query_param(name);
  if (!v) return std::nullopt;
  std::int64_t n = 0;
  auto [end, error] = std::from_chars(v->data(), v->data() + v->size(), n);
  if (v->empty() || error != std::errc() || end != v->data() + v->size() || n < min || n > max) {
    throw bad_query(
        name, "must be a whole number from " + std::to_string(min) + " to " + std::to_string(max));
  }
  return n;
}

std::optional<std::string> Request::query_enum(std::string_view name,
                                               std::span<const std::string_view> allowed) const {
  auto v = query_param(name);
  if (!v) return std::nullopt;
  if (std::find(allowed.begin(), allowed.end(), *v) != allowed.end()) return std::string(*v);
  std::string list;
  for (auto it = allowed.begin(); it != allowed.end(); ++it) {
    if (it != allowed.begin()) list += std::next(it) == allowed.end() ? " or " : ", ";
    list += *it;
  }
  throw bad_query(name, "must be " + list);
}

std::optional<bool> Request::query_bool(std::string_view name) const {
  auto v = query_param(name);
  if (!v) return std::nullopt;
  if (*v == "true" || *v == "1") return true;
  if (*v == "false" || *v == "0") return false;
  throw bad_query(name, "must be true or false");
}

bool Request::has_media_type(std::string_view type) const {
  auto ct = header("content-type");
  if (!ct) return false;
  // media-type = type "/" subtype *( OWS ";" OWS parameter ) (RFC 9110, 8.3.1)
  std::string_view v = *ct;
  auto is_space = [](char c) { return c == ' ' || c == '\t'; };
  while (!v.empty() && is_space(v.front())) v.remove_prefix(1);
  auto end = v.find_first_of("; \t");
  std::string_view essence = v.substr(0, end);
  if (!iequals(essence, type)) return false;
  if (end == std::string_view::npos) return true;
  v.remove_prefix(end);
  while (!v.empty() && is_space(v.front())) v.remove_prefix(1);
  return v.empty() || v.front() == ';';
}

void Request::require_media_type(std::string_view type) const {
  if (!has_media_type(type))
    throw unsupported_media_type("The body must be " + std::string(type) + ".");
}

Response json_response(int status, std::string body) {
  Response r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

Response problem_response(const Problem& problem, Language lang) {
  Response r;
  r.status = problem.status();
  r.content_type = "application/problem+json";
  r.body = problem.to_json(lang);
  if (problem.retry_after_seconds() > 0) {
    r.headers.emplace_back("retry-after", std::to_string(problem.retry_after_seconds()));
  }
  if (!problem.allow().empty()) r.headers.emplace_back("allow", problem.allow());
  return r;
}

void Router::add(Method method, std::string pattern, std::optional<Role> min_role,
                 Handler handler) {
  auto segments = split_path(pattern);
  routes_.push_back(
      {method, std::move(pattern), min_role, std::move(handler), {}, std::move(segments)});
}

void Router::add_streaming(Method method, std::string pattern, std::optional<Role> min_role,
                           StreamHandler handler) {
  auto segments = split_path(pattern);
  routes_.push_back(
      {method, std::move(pattern), min_role, {}, std::move(handler), std::move(segments)});
}

void Router::add_on_io_thread(Method method, std::string pattern, Handler handler) {
  add(method, std::move(pattern), std::nullopt, std::move(handler));
  routes_.back().on_io_thread = true;
}

const Route& Router::match(Request& request) const {
  std::string_view target = request.target;
  auto qpos = target.find('?');
  std::string_view path = target.substr(0, qpos);
  request.path = std::string(path);
  request.query.clear();
  if (qpos != std::string_view::npos) {
    std::string_view qs = target.substr(qpos + 1);
    std::size_t pos = 0;
    while (pos <= qs.size()) {
      auto amp = qs.find('&', pos);
      if (amp == std::string_view::npos) amp = qs.size();
      auto pair = qs.substr(pos, amp - pos);
      if (!pair.empty()) {
        auto eq = pair.find('=');
        // A name that is not text is not fit to quote back: the problem names "query".
        auto key = decode_text(pair.substr(0, eq), true, "query string", "query");
        auto value = eq == std::string_view::npos
                         ? std::string()
                         : decode_text(pair.substr(eq + 1), true, "query parameter", key);
        request.query.emplace_back(std::move(key), std::move(value));
      }
      pos = amp + 1;
    }
  }
  auto segments = split_path(path);
  bool path_known = false;
  std::string allow;
  for (const auto& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    std::vector<std::pair<std::string, std::string>> params;
    bool ok = true;
    for (std::size_t i = 0; i < segments.size() && ok; ++i) {
      const auto& pat = route.segments[i];
      if (pat.size() > 2 && pat.front() == '{' && pat.back() == '}') {
        auto name = pat.substr(1, pat.size() - 2);
        auto value = decode_text(segments[i], false, "path parameter", name);
        params.emplace_back(std::move(name), std::move(value));
      } else {
        ok = pat == segments[i];
      }
    }
    if (!ok) continue;
    path_known = true;
    if (route.method == request.method ||
        (route.method == Method::get && request.method == Method::head)) {
      request.route = route.pattern;
      request.params = std::move(params);
      return route;
    }
    const auto name = method_name(route.method);
    if (allow.find(name) == std::string::npos)
      allow += (allow.empty() ? "" : ", ") + std::string(name);
    if (route.method == Method::get && allow.find("HEAD") == std::string::npos) allow += ", HEAD";
  }
  if (path_known) {
    // RFC 9110 15.5.6: a 405 names the methods the resource does support.
    throw method_not_allowed("This method is not allowed on " + std::string(path) + ".")
        .with_allow(allow);
  }
  throw not_found("There is no resource at this path.");
}

}  // namespace http
}  // namespace gabe
