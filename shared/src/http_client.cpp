// One outgoing HTTP(S) POST (gabe/http_client.hpp): the only file of shared/ with a Beast and Asio
// client.
#include "gabe/http_client.hpp"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

namespace gabe::http_client {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// Runs the io_context until the started operation has completed; the stream's own timer
// (tcp_stream::expires_at) bounds it.
void run(asio::io_context& ioc) {
  ioc.restart();
  ioc.run();
}

Clock::time_point until(const Options& options, std::chrono::milliseconds step) {
  return std::min(options.deadline, Clock::now() + step);
}

Result failure(Failure kind, std::string step, std::string message) {
  Result r;
  r.failure = kind;
  r.step = std::move(step);
  r.message = std::move(message);
  return r;
}

Result failure(const beast::error_code& ec, std::string step) {
  return failure(ec == beast::error::timeout ? Failure::timeout : Failure::network, std::move(step),
                 ec.message());
}

Result too_large() {
  return failure(Failure::too_large, "read", "the answer is larger than the limit");
}

template <typename Stream>
Result exchange(Stream& stream, beast::tcp_stream& lowest, asio::io_context& ioc,
                bhttp::request<bhttp::string_body>& request, const Options& options) {
  beast::error_code ec;
  lowest.expires_at(until(options, options.io_timeout));
  bhttp::async_write(stream, request, [&ec](beast::error_code e, std::size_t) { ec = e; });
  run(ioc);
  if (ec) return failure(ec, "write");
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(options.max_header_bytes));
  parser.body_limit(options.max_body_bytes);
  // The header first: Beast 1.74 does not apply body_limit to a Content-Length it has already
  // buffered whole (seen here), so a declared length above the limit is refused before reading.
  lowest.expires_at(until(options, options.io_timeout));
  bhttp::async_read_header(stream, buffer, parser,
                           [&ec](beast::error_code e, std::size_t) { ec = e; });
  run(ioc);
  if (options.read_body) {
    if (ec == bhttp::error::body_limit) return too_large();
    if (ec) return failure(ec, "read");
    if (auto length = parser.content_length(); length && *length > options.max_body_bytes) {
      return too_large();
    }
    if (!parser.is_done()) {
      lowest.expires_at(until(options, options.io_timeout));
      bhttp::async_read(stream, buffer, parser,
                        [&ec](beast::error_code e, std::size_t) { ec = e; });
      run(ioc);
    }
    if (ec == bhttp::error::body_limit) return too_large();
    if (ec) return failure(ec, "read");
    if (parser.get().body().size() > options.max_body_bytes) return too_large();
  } else if (ec) {
    return failure(ec, "read");
  }
  Result result;
  result.status = static_cast<int>(parser.get().result_int());
  result.body = std::move(parser.get().body());
  return result;
}

bool refused(const tcp::resolver::results_type& endpoints, const Options& options) {
  if (!options.refuse_address) return false;
  for (const auto& entry : endpoints) {
    const auto address = entry.endpoint().address();
    const auto v6 = address.is_v4()
                        ? asio::ip::make_address_v6(asio::ip::v4_mapped, address.to_v4())
                        : address.to_v6();
    if (options.refuse_address(v6.to_bytes())) return true;
  }
  return false;
}

}  // namespace

Result post(const Post& outgoing, const Options& options) {
  bhttp::request<bhttp::string_body> request{bhttp::verb::post, outgoing.target, 11};
  const bool default_port = outgoing.port == (outgoing.https ? 443 : 80);
  const std::string host =
      outgoing.host.find(':') != std::string::npos ? "[" + outgoing.host + "]" : outgoing.host;
  request.set(bhttp::field::host, default_port ? host : host + ":" + std::to_string(outgoing.port));
  for (const auto& [name, value] : outgoing.headers) request.set(name, value);
  request.body() = outgoing.body;
  request.prepare_payload();

  try {
    asio::io_context ioc;
    beast::error_code ec;
    tcp::resolver resolver(ioc);
    tcp::resolver::results_type endpoints;
    resolver.async_resolve(outgoing.host, std::to_string(outgoing.port),
                           [&ec, &endpoints](beast::error_code e, tcp::resolver::results_type r) {
                             ec = e;
                             endpoints = std::move(r);
                           });
    ioc.restart();
    ioc.run_until(until(options, options.connect_timeout));
    if (!ioc.stopped()) {
      resolver.cancel();
      run(ioc);
      if (!ec) ec = beast::error::timeout;
    }
    if (ec) return failure(ec, "resolve");
    // Every address is checked, and the connection goes only to the ones checked, so that a
    // name with one public and one internal record, or one re-resolved later, gets nowhere.
    if (refused(endpoints, options)) return failure(Failure::refused, "resolve", "");

    beast::tcp_stream plain(ioc);
    plain.expires_at(until(options, options.connect_timeout));
    plain.async_connect(endpoints, [&ec](beast::error_code e, const tcp::endpoint&) { ec = e; });
    run(ioc);
    if (ec) return failure(ec, "connect");
    if (!outgoing.https) {
      Result result = exchange(plain, plain, ioc, request, options);
      plain.socket().shutdown(tcp::socket::shutdown_both, ec);
      return result;
    }

    asio::ssl::context tls(asio::ssl::context::tls_client);
    tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                    asio::ssl::context::no_tlsv1_1);
    if (options.verify_tls) {
      tls.set_default_verify_paths();
      tls.set_verify_mode(asio::ssl::verify_peer);
    } else {
      tls.set_verify_mode(asio::ssl::verify_none);
    }
    beast::ssl_stream<beast::tcp_stream> secure(std::move(plain), tls);
    if (SSL_set_tlsext_host_name(secure.native_handle(), outgoing.host.c_str()) != 1) {
      return failure(Failure::tls_setup, "TLS handshake", "cannot set the server name");
    }
    if (options.verify_tls) {
      secure.set_verify_callback(asio::ssl::host_name_verification(outgoing.host));
    }
    auto& lowest = beast::get_lowest_layer(secure);
    lowest.expires_at(until(options, options.connect_timeout));
    secure.async_handshake(asio::ssl::stream_base::client, [&ec](beast::error_code e) { ec = e; });
    run(ioc);
    if (ec) return failure(ec, "TLS handshake");
    Result result = exchange(secure, lowest, ioc, request, options);
    lowest.close();
    return result;
  } catch (const std::exception& e) {
    return failure(Failure::exception, "", e.what());
  }
}

}  // namespace gabe::http_client
