// The pure half of the APIv4 client: URLs, request bodies, answers, paging. The HTTP exchange
// is in civicrm_transport.cpp.
#include "civicrm_api.hpp"

#include <charconv>
#include <type_traits>
#include <utility>

namespace gabe::ingest::civicrm {
namespace {

bool is_identifier(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s) {
    bool ok =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<ApiEndpoint> parse_api_base(std::string_view url) {
  ApiEndpoint endpoint;
  if (url.rfind("https://", 0) == 0) {
    endpoint.https = true;
    url.remove_prefix(8);
    endpoint.port = 443;
  } else if (url.rfind("http://", 0) == 0) {
    url.remove_prefix(7);
    endpoint.port = 80;
  } else {
    return std::nullopt;
  }
  if (url.find_first_of("?#@ \t\r\n") != std::string_view::npos) return std::nullopt;
  auto slash = url.find('/');
  std::string_view authority = url.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? std::string_view{} : url.substr(slash);
  auto colon = authority.rfind(':');
  std::string_view host = authority;
  if (colon != std::string_view::npos && authority.find(']') == std::string_view::npos) {
    host = authority.substr(0, colon);
    std::string_view port_text = authority.substr(colon + 1);
    unsigned port = 0;
    auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc{} || end != port_text.data() + port_text.size() || port == 0 ||
        port > 65535) {
      return std::nullopt;
    }
    endpoint.port = static_cast<std::uint16_t>(port);
  }
  if (host.empty() || host.size() > 253) return std::nullopt;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.';
    if (!ok) return std::nullopt;
  }
  while (!path.empty() && path.back() == '/') path.remove_suffix(1);
  endpoint.host = std::string(host);
  endpoint.base_path = std::string(path);
  return endpoint;
}

std::optional<std::string> api_target(const ApiEndpoint& endpoint, std::string_view entity,
                                      std::string_view action) {
  if (!is_identifier(entity) || !is_identifier(action)) return std::nullopt;
  std::string target = endpoint.base_path;
  target += '/';
  target += entity;
  target += '/';
  target += action;
  return target;
}

std::string params_json(const ApiQuery& query) {
  JsonWriter w;
  w.begin_object();
  if (!query.select.empty()) w.field("select", query.select);
  if (!query.where.empty()) {
    w.key("where").begin_array();
    for (const auto& clause : query.where) {
      w.begin_array().value(clause.field).value(clause.op);
      std::visit(
          [&w](const auto& v) {
            if constexpr (std::is_same_v<std::decay_t<decltype(v)>, std::vector<std::int64_t>>) {
              w.begin_array();
              for (auto n : v) w.value(n);
              w.end_array();
            } else {
              w.value(v);
            }
          },
          clause.value);
      w.end_array();
    }
    w.end_array();
  }
  if (!query.order_by.empty()) {
    w.key("orderBy").begin_object();
    for (const auto& [field, ascending] : query.order_by) {
      w.field(field, ascending ? "ASC" : "DESC");
    }
    w.end_object();
  }
  if (query.limit > 0) w.field("limit", query.limit);
  if (query.offset > 0) w.field("offset", query.offset);
  if (!query.joins.empty()) {
    w.key("join").begin_array();
    for (const auto& join : query.joins) w.raw(join);
    w.end_array();
  }
  w.end_object();
  return w.take();
}

std::string form_encode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(value.size() * 3);
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    bool unreserved = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '-' || c == '.' || c == '_' || c == '~';
    if (unreserved) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4U];
      out += kHex[u & 0xFU];
    }
  }
  return out;
}

std::string request_body(const ApiQuery& query) {
  return "params=" + form_encode(params_json(query));
}

std::optional<std::string> form_decode(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (std::size_t i = 0; i < value.size(); ++i) {
    char c = value[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= value.size()) return std::nullopt;
      int hi = hex_value(value[i + 1]);
      int lo = hex_value(value[i + 2]);
      if (hi < 0 || lo < 0) return std::nullopt;
      out += static_cast<char>((hi << 4) | lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> form_field(std::string_view body, std::string_view name) {
  while (!body.empty()) {
    auto amp = body.find('&');
    std::string_view pair = body.substr(0, amp);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos) {
      auto key = form_decode(pair.substr(0, eq));
      if (key && *key == name) return form_decode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    body.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::string_view to_string(ApiError error) {
  switch (error) {
    case ApiError::none:
      return "ok";
    case ApiError::bad_key:
      return "bad_key";
    case ApiError::unavailable:
      return "unavailable";
    case ApiError::malformed:
      return "malformed";
    case ApiError::rejected:
      return "rejected";
  }
  return "unknown";
}

const JsonValue& ApiResult::values() const {
  static const JsonValue empty(rapidjson::kArrayType);
  if (!ok() || !document) return empty;
  return (*document)["values"];
}

ApiResult interpret_answer(int http_status, std::string_view body) {
  ApiResult result;
  result.http_status = http_status;
  auto fail = [&result, http_status](ApiError error, std::string_view what) {
    result.error = error;
    result.message = "CiviCRM answered " + std::to_string(http_status) + ": " + std::string(what);
    return std::move(result);
  };
  if (http_status == 401 || http_status == 403) return fail(ApiError::bad_key, "API key refused");
  if (http_status >= 500 && http_status <= 599) return fail(ApiError::unavailable, "server error");
  if (http_status < 200 || http_status > 299) return fail(ApiError::rejected, "request refused");
  std::shared_ptr<rapidjson::Document> document;
  try {
    document = parse_json(body, JsonLimits{64});
  } catch (const Problem&) {
    return fail(ApiError::malformed, "not valid JSON");
  }
  if (!document->IsObject()) return fail(ApiError::malformed, "not a JSON object");
  const JsonValue* values = member(*document, "values");
  if (values == nullptr || !values->IsArray()) return fail(ApiError::malformed, "no values array");
  for (const auto& record : values->GetArray()) {
    if (!record.IsObject()) return fail(ApiError::malformed, "a value is not an object");
  }
  const JsonValue* count = member(*document, "count");
  if (count == nullptr || !count->IsInt64() || count->GetInt64() < 0) {
    return fail(ApiError::malformed, "no count");
  }
  result.count = count->GetInt64();
  result.document = std::move(document);
  return result;
}

ApiResult transport_failure(std::string message) {
  ApiResult result;
  result.error = ApiError::unavailable;
  result.message = std::move(message);
  return result;
}

ApiQuery page_query(const ApiQuery& base, std::int64_t after_id, std::int64_t page_size,
                    const std::optional<ModifiedSince>& modified_since) {
  ApiQuery query = base;
  if (modified_since) {
    query.where.push_back({modified_since->field, ">=", modified_since->since});
  }
  query.where.push_back({"id", ">", after_id});
  query.order_by = {{"id", true}};
  query.limit = page_size;
  query.offset = 0;
  return query;
}

PagingResult read_pages(const PageFetch& fetch, const ApiQuery& base, std::int64_t page_size,
                        std::int64_t after_id,
                        const std::function<bool(const JsonValue& values)>& on_page,
                        const std::optional<ModifiedSince>& modified_since) {
  PagingResult paging;
  paging.last_id = after_id;
  if (page_size <= 0) page_size = 1;
  while (true) {
    ApiResult page = fetch(page_query(base, paging.last_id, page_size, modified_since));
    if (!page.ok()) {
      paging.last = std::move(page);
      return paging;
    }
    const JsonValue& values = page.values();
    std::int64_t previous = paging.last_id;
    for (const auto& record : values.GetArray()) {
      const JsonValue* id = member(record, "id");
      if (id == nullptr || !id->IsInt64() || id->GetInt64() <= previous) {
        paging.last.error = ApiError::malformed;
        paging.last.http_status = page.http_status;
        paging.last.message = "CiviCRM answered a page without increasing integer ids";
        return paging;
      }
      previous = id->GetInt64();
    }
    auto size = static_cast<std::int64_t>(values.Size());
    if (size > 0) {
      ++paging.pages;
      bool go_on = on_page(values);
      paging.last_id = previous;
      paging.records += size;
      if (!go_on) {
        paging.last = std::move(page);
        return paging;
      }
    }
    if (size < page_size) {
      paging.last = std::move(page);
      return paging;
    }
  }
}

}  // namespace gabe::ingest::civicrm
