// Outgoing signed webhooks: one POST over HTTP or HTTPS (the URL check and the signature are in
// webhook_signing.cpp). The only file of the outbox with Beast and Asio (pitfalls.md: heavy to
// compile). One connection
// per attempt: deliveries are few, and a fresh connection never reuses a half-broken one.
#include "gabe/webhook_sender.hpp"

#include <openssl/ssl.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace gabe::webhooks {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;

// Runs the io_context until the started operation has completed; the stream's own timer
// (tcp_stream::expires_at) bounds it.
void run(asio::io_context& ioc) {
  ioc.restart();
  ioc.run();
}

DeliveryResult failure(const beast::error_code& ec, std::string_view step) {
  DeliveryResult r;
  r.error = ec == beast::error::timeout ? "timeout (" + std::string(step) + ")"
                                        : std::string(step) + ": " + ec.message();
  return r;
}

template <typename Stream>
DeliveryResult exchange(Stream& stream, beast::tcp_stream& lowest, asio::io_context& ioc,
                        bhttp::request<bhttp::string_body>& request,
                        std::chrono::steady_clock::time_point deadline) {
  beast::error_code ec;
  lowest.expires_at(deadline);
  bhttp::async_write(stream, request, [&ec](beast::error_code e, std::size_t) { ec = e; });
  run(ioc);
  if (ec) return failure(ec, "write");
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.header_limit(16U * 1024U);
  parser.body_limit(std::uint64_t{64} * 1024);
  lowest.expires_at(deadline);
  bhttp::async_read_header(stream, buffer, parser,
                           [&ec](beast::error_code e, std::size_t) { ec = e; });
  run(ioc);
  if (ec) return failure(ec, "read");
  DeliveryResult result;
  result.status = static_cast<int>(parser.get().result_int());
  return result;
}

}  // namespace

DeliveryResult post_signed(const WebhookUrl& url, std::string_view secret, std::string_view id,
                           std::int64_t timestamp, std::string_view body,
                           std::chrono::milliseconds timeout, bool allow_internal) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bhttp::request<bhttp::string_body> request{bhttp::verb::post, url.target, 11};
  const bool default_port = url.port == (url.https ? 443 : 80);
  const std::string host =
      url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  request.set(bhttp::field::host, default_port ? host : host + ":" + std::to_string(url.port));
  request.set(bhttp::field::user_agent, "gabe-webhooks");
  request.set(bhttp::field::content_type, "application/json");
  request.set("webhook-id", std::string(id));
  request.set("webhook-timestamp", std::to_string(timestamp));
  request.set("webhook-signature", sign(secret, id, timestamp, body));
  request.set(bhttp::field::connection, "close");
  request.body() = std::string(body);
  request.prepare_payload();

  try {
    asio::io_context ioc;
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(url.host, std::to_string(url.port),
                           [&ec, &endpoints](beast::error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                           });
    ioc.restart();
    ioc.run_until(deadline);
    if (!ioc.stopped()) {
      resolver.cancel();
      run(ioc);
      if (!ec) ec = beast::error::timeout;
    }
    if (ec) return failure(ec, "resolve");
    if (!allow_internal) {
      // Every address is checked, and the connection goes only to the ones checked, so that a
      // name with one public and one internal record, or one re-resolved later, gets nowhere.
      for (const auto& entry : endpoints) {
        const auto address = entry.endpoint().address();
        const bool internal = address.is_v4() ? is_internal_ipv4(address.to_v4().to_uint())
                                              : is_internal_ipv6(address.to_v6().to_bytes());
        if (internal) {
          DeliveryResult r;
          r.error = "refused: the host resolves to an internal address";
          return r;
        }
      }
    }

    beast::tcp_stream plain(ioc);
    plain.expires_at(deadline);
    plain.async_connect(endpoints, [&ec](beast::error_code e, const tcp::endpoint&) { ec = e; });
    run(ioc);
    if (ec) return failure(ec, "connect");
    if (!url.https) {
      DeliveryResult result = exchange(plain, plain, ioc, request, deadline);
      plain.socket().shutdown(tcp::socket::shutdown_both, ec);
      return result;
    }

    asio::ssl::context tls(asio::ssl::context::tls_client);
    tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1);
    tls.set_default_verify_paths();
    tls.set_verify_mode(asio::ssl::verify_peer);
    beast::ssl_stream<beast::tcp_stream> secure(std::move(plain), tls);
    if (SSL_set_tlsext_host_name(secure.native_handle(), url.host.c_str()) != 1) {
      DeliveryResult r;
      r.error = "TLS: cannot set the server name";
      return r;
    }
    secure.set_verify_callback(asio::ssl::host_name_verification(url.host));
    auto& lowest = beast::get_lowest_layer(secure);
    lowest.expires_at(deadline);
    secure.async_handshake(asio::ssl::stream_base::client, [&ec](beast::error_code e) { ec = e; });
    run(ioc);
    if (ec) return failure(ec, "TLS handshake");
    DeliveryResult result = exchange(secure, lowest, ioc, request, deadline);
    lowest.close();
    return result;
  } catch (const std::exception& e) {
    DeliveryResult r;
    r.error = std::string("sender failure: ") + e.what();
    return r;
  }
}

}  // namespace gabe::webhooks
