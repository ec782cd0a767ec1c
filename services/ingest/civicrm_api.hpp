// A client of CiviCRM's APIv4 REST interface (the pull connector's transport, spec/api.md
// "CiviCRM connector (pull)"): POST {base}/{Entity}/{action} with the form field `params` (a
// JSON string) and `X-Civi-Auth: Bearer KEY` (AuthX); answers {"values": [...], "count": N}.
// Request building and answer parsing are pure functions (unit-tested and fuzzed without a
// socket); ApiClient does the HTTP(S) exchange, with Beast kept inside civicrm_transport.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "gabe/json.hpp"

namespace gabe::ingest::civicrm {

// The APIv4 REST base, e.g. https://crm.example.org/civicrm/ajax/api4.
struct ApiEndpoint {
  bool https = false;
  std::string host;
  std::uint16_t port = 0;
  std::string base_path;  // without a trailing slash, e.g. "/civicrm/ajax/api4"
};
// nullopt unless the URL is http:// or https://, with a host, an optional port, and no query,
// fragment or user info.
std::optional<ApiEndpoint> parse_api_base(std::string_view url);
// "{base_path}/{entity}/{action}"; entity and action must be identifiers ([A-Za-z0-9_]).
std::optional<std::string> api_target(const ApiEndpoint& endpoint, std::string_view entity,
                                      std::string_view action);

// One `where` clause: [field, op, value]. Values are what CiviCRM compares with: ints, strings
// (dates as "YYYY-MM-DD HH:MM:SS", CiviCRM's local time), booleans, or a list of ints (IN).
struct WhereClause {
  std::string field;
  std::string op;  // "=", ">", ">=", "<", "<=", "!=", "IN", "IS NULL", ...
  std::variant<std::int64_t, std::string, bool, std::vector<std::int64_t>> value;
};

struct ApiQuery {
  std::vector<std::string> select;  // empty: CiviCRM's default (all fields of the entity)
  std::vector<WhereClause> where;
  std::vector<std::pair<std::string, bool>> order_by;  // field, ascending
  std::int64_t limit = 0;                              // 0: no limit
  std::int64_t offset = 0;
  std::vector<std::string> joins;  // each an already-serialised APIv4 join (a JSON array)
};

// The JSON of `params` (select, where, orderBy, limit, offset, join).
std::string params_json(const ApiQuery& query);
// application/x-www-form-urlencoded: percent-encodes everything but unreserved characters.
std::string form_encode(std::string_view value);
// The form body "params=...".
std::string request_body(const ApiQuery& query);
// Decodes a form-encoded value ('+' is a space); nullopt on a malformed % escape.
std::optional<std::string> form_decode(std::string_view value);
// The value of `name` in a form-encoded body, decoded; nullopt when absent or malformed.
std::optional<std::string> form_field(std::string_view body, std::string_view name);

enum class ApiError {
  none,
  bad_key,      // 401/403: the key is wrong, expired or lacks permission
  unavailable,  // 5xx, timeout, refused, connection lost: retry with backoff
  malformed,    // a 2xx answer that is not {"values": [...], "count": N}
  rejected,     // another 4xx (CiviCRM refused the request itself): not retried
};
std::string_view to_string(ApiError error);

struct ApiResult {
  ApiError error = ApiError::none;
  int http_status = 0;  // 0 when no answer arrived
  // For logs and last_error: the status and the kind of failure, never a record's content.
  std::string message;
  std::shared_ptr<rapidjson::Document> document;  // the whole answer when ok
  std::int64_t count = 0;

  bool ok() const { return error == ApiError::none; }
  bool retry() const { return error == ApiError::unavailable; }
  // The `values` array; only when ok().
  const JsonValue& values() const;
};

// Interprets one HTTP answer of APIv4 (status and body).
ApiResult interpret_answer(int http_status, std::string_view body);
// A failed exchange without an answer (timeout, refused, TLS failure, lost connection).
ApiResult transport_failure(std::string message);

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{5000};   // resolve, connect and TLS handshake
  std::chrono::milliseconds request_timeout{30000};  // write the request, read the answer
  std::size_t max_answer_bytes = std::size_t{64} * 1024 * 1024;
  bool verify_tls = true;  // peer certificate and host name against the system's CAs
};

class ApiClient {
 public:
  ApiClient(ApiEndpoint endpoint, std::string api_key, ClientOptions options = {});
  // One call; never throws for what CiviCRM or the network does.
  ApiResult call(std::string_view entity, std::string_view action, const ApiQuery& query) const;
  const ApiEndpoint& endpoint() const { return endpoint_; }

 private:
  ApiEndpoint endpoint_;
  std::string api_key_;
  ClientOptions options_;
};

// An incremental read: `field >= since`. Contact and ContributionRecur call the field
// modified_date, Campaign last_modified_date; Contribution has none (civicrm-core's
// schema/*/*.entityType.php). `since` is CiviCRM's local time, "YYYY-MM-DD HH:MM:SS"; the
// caller applies its overlap.
struct ModifiedSince {
  std::string field = "modified_date";
  std::string since;
};

// The query of one page of keyset paging: `base` plus `id > after_id`, ordered by id
// ascending, `limit page_size`, and `modified_since` when given.
ApiQuery page_query(const ApiQuery& base, std::int64_t after_id, std::int64_t page_size,
                    const std::optional<ModifiedSince>& modified_since = std::nullopt);

struct PagingResult {
  ApiResult last;            // ok, or the failure that stopped the read
  std::int64_t last_id = 0;  // the highest id handed to on_page: resume after it
  std::int64_t records = 0;  // how many were handed to on_page
  std::int64_t pages = 0;
};
// Reads a whole entity in pages of `page_size` by id, starting after `after_id`: each page is
// fetched by `fetch` (one APIv4 `get`) and its values handed to `on_page` (return false to
// stop). Stops at the first failure; calling again with after_id = last_id resumes where it
// stopped. A record without an integer id, or ids that do not increase, make the result
// `malformed`. Pure: the fetch is a parameter (the fuzz build has no HTTP client).
using PageFetch = std::function<ApiResult(const ApiQuery& query)>;
PagingResult read_pages(const PageFetch& fetch, const ApiQuery& base, std::int64_t page_size,
                        std::int64_t after_id,
                        const std::function<bool(const JsonValue& values)>& on_page,
                        const std::optional<ModifiedSince>& modified_since = std::nullopt);
// The same against a site: `{entity}/get` through `client`.
inline PagingResult read_pages(const ApiClient& client, std::string_view entity,
                               const ApiQuery& base, std::int64_t page_size, std::int64_t after_id,
                               const std::function<bool(const JsonValue& values)>& on_page,
                               const std::optional<ModifiedSince>& modified_since = std::nullopt) {
  return read_pages(
      [&client, entity](const ApiQuery& query) { return client.call(entity, "get", query); }, base,
      page_size, after_id, on_page, modified_since);
}

}  // namespace gabe::ingest::civicrm
