// The HTTP(S) exchange of the APIv4 client, through gabe/http_client.hpp (one connection per
// call: a sync makes few, large requests).
#include "civicrm_api.hpp"
#include "gabe/http_client.hpp"

namespace gabe::ingest::civicrm {

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
  http_client::Post request;
  request.https = endpoint_.https;
  request.host = endpoint_.host;
  request.port = endpoint_.port;
  request.target = std::move(*target);
  request.headers = {
      {"User-Agent", "gabe-ingest"},
      {"Content-Type", "application/x-www-form-urlencoded"},
      {"Accept", "application/json"},
      {"X-Civi-Auth", "Bearer " + api_key_},
      // CRM_Api4_Page_AJAX::checkRequestMethod() answers 400 ("SECURITY ALERT") to a request
      // that CRM_Utils_REST::isWebServiceRequest() does not accept; this header is what it
      // looks for.
      {"X-Requested-With", "XMLHttpRequest"},
  };
  request.body = request_body(query);

  http_client::Options options;
  options.connect_timeout = options_.connect_timeout;
  options.io_timeout = options_.request_timeout;
  options.verify_tls = options_.verify_tls;
  options.max_body_bytes = options_.max_answer_bytes;

  auto answer = http_client::post(request, options);
  using http_client::Failure;
  switch (answer.failure) {
    case Failure::none:
      return interpret_answer(answer.status, answer.body);
    case Failure::timeout:
      return transport_failure("CiviCRM timed out (" + answer.step + ")");
    case Failure::too_large: {
      ApiResult result = transport_failure("CiviCRM's answer is larger than the limit");
      result.error = ApiError::malformed;
      return result;
    }
    case Failure::tls_setup:
      return transport_failure("TLS: " + answer.message);
    case Failure::exception:
      return transport_failure("CiviCRM client failure: " + answer.message);
    case Failure::network:
    case Failure::refused:  // not asked for
      break;
  }
  return transport_failure("CiviCRM unreachable (" + answer.step + ": " + answer.message + ")");
}

}  // namespace gabe::ingest::civicrm
