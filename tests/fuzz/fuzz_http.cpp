// libFuzzer target: the HTTP layer's framing as the server reads a connection (header and
// chunked parsing, bodies, pipelining), then the router's decoding of path and query, with
// small limits so that every limit is reached. The first byte picks the socket read size.
#include <cstddef>
#include <cstdint>
#include <string>

#include "gabe/http.hpp"
#include "gabe/text.hpp"
#include "http_framing.hpp"

namespace {

const gabe::http::Router& router() {
  static const gabe::http::Router r = [] {
    gabe::http::Router routes;
    auto ok = [](gabe::http::Request&) { return gabe::http::json_response(200, "{}"); };
    routes.add(gabe::http::Method::get, "/healthz", std::nullopt, ok);
    routes.add(gabe::http::Method::post, "/v1/webhooks/{source}", std::nullopt, ok);
    routes.add(gabe::http::Method::get, "/v1/donors/{id}", gabe::Role::viewer, ok);
    routes.add(gabe::http::Method::del, "/v1/donors/{id}", gabe::Role::admin, ok);
    return routes;
  }();
  return r;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t read_size = 1 + data[0] % 64;
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  gabe::http::framing::Limits limits;
  limits.header = 1024;
  limits.body = 2048;
  limits.chunk_metadata = 256;
  auto outcome = gabe::http::framing::parse_requests(bytes, limits, read_size);
  if (outcome.problem) {
    const int status = outcome.problem->status();
    if (status != 400 && status != 408 && status != 413 && status != 431) __builtin_trap();
  }
  std::size_t total = 0;
  for (auto& request : outcome.requests) {
    if (request.body.size() > limits.body) __builtin_trap();
    total += request.body.size();
    for (const auto& [name, value] : request.headers) {
      if (!gabe::is_header_text(value)) __builtin_trap();
    }
    try {
      router().match(request);
      for (const auto& [name, value] : request.params) {
        if (!gabe::is_valid_text(value)) __builtin_trap();
      }
      for (const auto& [name, value] : request.query) {
        if (!gabe::is_valid_text(name) || !gabe::is_valid_text(value)) __builtin_trap();
      }
    } catch (const gabe::Problem& p) {
      if (p.status() != 400 && p.status() != 404 && p.status() != 405) __builtin_trap();
      auto response = gabe::http::problem_response(p, request.language());
      if (response.body.empty()) __builtin_trap();
    }
  }
  if (total > bytes.size()) __builtin_trap();
  return 0;
}
