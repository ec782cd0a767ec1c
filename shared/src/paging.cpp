#include "gabe/paging.hpp"

#include <limits>

#include "gabe/json.hpp"

namespace gabe {

Page Page::of(const http::Request& request) {
  Page page;
  if (auto limit = request.query_int("limit", 1, kMaxLimit)) page.limit = static_cast<long>(*limit);
  if (request.query_param("after")) {
    try {
      page.after = request.query_int("after", 1, std::numeric_limits<std::int64_t>::max());
    } catch (const Problem&) {
      throw unprocessable("Invalid query parameter after.",
                          {{"after", "is not a cursor returned by this list"}});
    }
  }
  return page;
}

struct PageWriter::State {
  long limit = 0;
  long shown = 0;
  bool more = false;
  std::string last_key;
  JsonWriter json;
};

PageWriter::PageWriter(const Page& page) : state_(std::make_unique<State>()) {
  state_->limit = page.limit;
  state_->json.begin_object().key("items").begin_array();
}

PageWriter::~PageWriter() = default;

bool PageWriter::add(std::string_view key, std::string_view item_json) {
  auto& s = *state_;
  if (s.shown >= s.limit) {
    s.more = true;
    return false;
  }
  s.json.raw(item_json);
  s.last_key = key;
  ++s.shown;
  return true;
}

std::string PageWriter::finish() {
  auto& s = *state_;
  s.json.end_array().key("next");
  if (s.more) {
    s.json.value(s.last_key);
  } else {
    s.json.null();
  }
  s.json.end_object();
  return s.json.take();
}

std::string page_json(const pqxx::result& rows, const Page& page) {
  PageWriter writer(page);
  for (const auto& row : rows) {
    if (!writer.add(row[0].c_str(), row[1].c_str())) break;
  }
  return writer.finish();
}

}  // namespace gabe
