// The HTTP(S) exchange of the APIv4 client, the only file of the connector that includes
// Beast and Asio (pitfalls.md: they are heavy to compile). One connection per call: a sync
// makes few, large requests, and a fresh connection never reuses a half-broken one.
#include <openssl/ssl.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/version.hpp>

#include "civicrm_api.hpp"

namespace gabe::ingest::civicrm {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Runs the io_context until the started operation has completed; the stream's own timer
// (tcp_stream::expires_after) bounds it.
void run(asio::io_context& ioc) {
  ioc.restart();
  ioc.run();
}

std::string describe(const beast::error_code& ec, std::string_view step) {
  if (ec == beast::error::timeout) return "CiviCRM timed out (" + std::string(step) + ")";
  return "CiviCRM unreachable (" + std::string(step) + ": " + ec.message() + ")";
}

template <typename Stream>
ApiResult exchange(Stream& stream, beast::tcp_stream& lowest, asio::io_context& ioc,
                   http::request<http::string_body>& request, const ClientOptions& options) {
  beast::error_code ec;
  lowest.expires_after(options.request_timeout);
  http::async_write(stream, request, [&ec](beast::error_code e, std::size_t) { ec = e; });
  run(ioc);
  if (ec) return transport_failure(describe(ec, "write"));
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(options.max_answer_bytes);
  parser.header_limit(64U * 1024U);
  auto too_large = [] {
    ApiResult result = transport_failure("CiviCRM's answer is larger than the limit");
    result.error = ApiError::malformed;
    return result;
  };
  // The header first: Beast 1.74 does not apply body_limit to a Content-Length it has already
  // buffered whole (seen here), so a declared length above the limit is refused before reading.
  lowest.expires_after(options.request_timeout);
  http::async_read_header(stream, buffer, parser,
                          [&ec](beast::error_code e, std::size_t) { ec = e; });
  run(ioc);
  if (ec == http::error::body_limit) return too_large();
  if (ec) return transport_failure(describe(ec, "read"));
  if (auto length = parser.content_length(); length && *length > options.max_answer_bytes) {
    return too_large();
  }
  if (!parser.is_done()) {
    lowest.expires_after(options.request_timeout);
    http::async_read(stream, buffer, parser, [&ec](beast::error_code e, std::size_t) { ec = e; });
    run(ioc);
  }
  if (ec == http::error::body_limit) return too_large();
  if (ec) return transport_failure(describe(ec, "read"));
  if (parser.get().body().size() > options.max_answer_bytes) return too_large();
  const auto& response = parser.get();
  return interpret_answer(static_cast<int>(response.result_int()), response.body());
}

}  // namespace

ApiClient::ApiClient(ApiEndpoint endpoint, std::string api_key, ClientOptions options)
    : endpoint_(std::move(endpoint)), api_key_(std::move(api_key)), options_(options) {}

ApiResult ApiClient::call(std::string_view entity, std::string_view action,
                          const ApiQuery& query) const {
  auto target = api_target(endpoint_, entity, action);
  if (!target) {
    ApiResult result;
    result.error = ApiError::rejected;
    result.message = "not an APIv4 entity or action name";
    return result;
  }
  http::request<http::string_body> request{http::verb::post, *target, 11};
  bool default_port = endpoint_.port == (endpoint_.https ? 443 : 80);
  request.set(http::field::host, default_port
                                     ? endpoint_.host
                                     : endpoint_.host + ":" + std::to_string(endpoint_.port));
  request.set(http::field::user_agent, "gabe-ingest");
  request.set(http::field::content_type, "application/x-www-form-urlencoded");
  request.set(http::field::accept, "application/json");
  request.set("X-Civi-Auth", "Bearer " + api_key_);
  // CRM_Api4_Page_AJAX::checkRequestMethod() answers 400 ("SECURITY ALERT") to a request that
  // CRM_Utils_REST::isWebServiceRequest() does not accept; this header is what it looks for.
  request.set("X-Requested-With", "XMLHttpRequest");
  request.body() = request_body(query);
  request.prepare_payload();

  try {
    asio::io_context ioc;
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(endpoint_.host, std::to_string(endpoint_.port),
                           [&ec, &endpoints](beast::error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                           });
    ioc.restart();
    ioc.run_for(options_.connect_timeout);
    if (!ioc.stopped()) {
      resolver.cancel();
      run(ioc);
      if (!ec) ec = beast::error::timeout;
    }
    if (ec) return transport_failure(describe(ec, "resolve"));

    beast::tcp_stream plain(ioc);
    plain.expires_after(options_.connect_timeout);
    plain.async_connect(endpoints, [&ec](beast::error_code e, const tcp::endpoint&) { ec = e; });
    run(ioc);
    if (ec) return transport_failure(describe(ec, "connect"));
    if (!endpoint_.https) {
      ApiResult result = exchange(plain, plain, ioc, request, options_);
      plain.socket().shutdown(tcp::socket::shutdown_both, ec);
      return result;
    }

    asio::ssl::context tls(asio::ssl::context::tls_client);
    tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1);
    if (options_.verify_tls) {
      tls.set_default_verify_paths();
      tls.set_verify_mode(asio::ssl::verify_peer);
    } else {
      tls.set_verify_mode(asio::ssl::verify_none);
    }
    beast::ssl_stream<beast::tcp_stream> secure(std::move(plain), tls);
    if (SSL_set_tlsext_host_name(secure.native_handle(), endpoint_.host.c_str()) != 1) {
      return transport_failure("TLS: cannot set the server name");
    }
    if (options_.verify_tls) {
      secure.set_verify_callback(asio::ssl::host_name_verification(endpoint_.host));
    }
    auto& lowest = beast::get_lowest_layer(secure);
    lowest.expires_after(options_.connect_timeout);
    secure.async_handshake(asio::ssl::stream_base::client, [&ec](beast::error_code e) { ec = e; });
    run(ioc);
    if (ec) return transport_failure(describe(ec, "TLS handshake"));
    ApiResult result = exchange(secure, lowest, ioc, request, options_);
    lowest.close();
    return result;
  } catch (const std::exception& e) {
    return transport_failure(std::string("CiviCRM client failure: ") + e.what());
  }
}

}  // namespace gabe::ingest::civicrm
