// Outgoing signed webhooks: one POST over HTTP or HTTPS through gabe/http_client.hpp (the URL
// check and the signature are in webhook_signing.cpp).
#include "gabe/webhook_sender.hpp"

#include "gabe/http_client.hpp"

namespace gabe::webhooks {

DeliveryResult post_signed(const WebhookUrl& url, std::string_view secret, std::string_view id,
                           std::int64_t timestamp, std::string_view body,
                           std::chrono::milliseconds timeout, bool allow_internal) {
  http_client::Post request;
  request.https = url.https;
  request.host = url.host;
  request.port = url.port;
  request.target = url.target;
  request.headers = {
      {"User-Agent", "gabe-webhooks"},
      {"Content-Type", "application/json"},
      {"webhook-id", std::string(id)},
      {"webhook-timestamp", std::to_string(timestamp)},
      {"webhook-signature", sign(secret, id, timestamp, body)},
      {"Connection", "close"},
  };
  request.body = std::string(body);

  // One deadline for the whole exchange; only the status line and the header are read.
  http_client::Options options;
  options.connect_timeout = timeout;
  options.io_timeout = timeout;
  options.deadline = std::chrono::steady_clock::now() + timeout;
  options.read_body = false;
  options.max_header_bytes = std::size_t{16} * 1024;
  if (!allow_internal) options.refuse_address = is_internal_ipv6;

  auto answer = http_client::post(request, options);
  DeliveryResult result;
  result.status = answer.status;
  using http_client::Failure;
  switch (answer.failure) {
    case Failure::none:
      break;
    case Failure::timeout:
      result.error = "timeout (" + answer.step + ")";
      break;
    case Failure::refused:
      result.error = "refused: the host resolves to an internal address";
      break;
    case Failure::tls_setup:
      result.error = "TLS: " + answer.message;
      break;
    case Failure::exception:
      result.error = "sender failure: " + answer.message;
      break;
    case Failure::network:
    case Failure::too_large:
      result.error = answer.step + ": " + answer.message;
      break;
  }
  return result;
}

}  // namespace gabe::webhooks
