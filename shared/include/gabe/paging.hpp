// Keyset-paged JSON lists, the shape of every list in the API:
// {"items": [...], "next": "<cursor>" | null}, with ?limit= (default 100, 1..1000) and
// ?after=<cursor>. The cursor is opaque to clients; here it is the key (a row id) of a page's
// last item, and the next page holds the items past it in the list's order.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "gabe/db.hpp"
#include "gabe/http.hpp"

namespace gabe {

struct Page {
  static constexpr long kDefaultLimit = 100;
  static constexpr long kMaxLimit = 1000;

  long limit = kDefaultLimit;
  std::optional<std::int64_t> after;

  // Reads ?limit= and ?after=; a bad value is a 422 naming the parameter.
  static Page of(const http::Request& request);
};

// Writes one page from items in list order; the query fetches page.limit + 1 of them, and the
// extra one only tells that there is a next page.
class PageWriter {
 public:
  explicit PageWriter(const Page& page);
  ~PageWriter();
  PageWriter(const PageWriter&) = delete;
  PageWriter& operator=(const PageWriter&) = delete;
  // Adds an item (its key and its JSON text); false once the page is full.
  bool add(std::string_view key, std::string_view item_json);
  // {"items": [...], "next": <key of the last item shown, if more followed> | null}
  std::string finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// The list answer from rows of (key, item JSON text).
std::string page_json(const pqxx::result& rows, const Page& page);

// Runs `sql` with the filters as $1..$n, page.after as $n+1 (NULL on the first page) and
// page.limit + 1 as $n+2, and answers its rows of (key bigint, item JSON text). The query
// orders by key and keeps the keys past $n+1 (`key > $n+1` ascending, `key < $n+1` descending).
template <typename... Filters>
http::Response paged_list(pqxx::transaction_base& tx, const std::string& sql, const Page& page,
                          const Filters&... filters) {
  auto rows = tx.exec_params(sql, filters..., page.after, page.limit + 1);
  return http::json_response(200, page_json(rows, page));
}

}  // namespace gabe
