#include "gabe/metrics.hpp"

#include <prometheus/text_serializer.h>

namespace gabe {

Metrics::Metrics(const std::string& service)
    : registry_(std::make_shared<prometheus::Registry>()),
      requests_(prometheus::BuildCounter()
                    .Name("gabe_http_requests_total")
                    .Help("HTTP requests answered, by route template, method and status")
                    .Labels({{"service", service}})
                    .Register(*registry_)),
      durations_(
          prometheus::BuildHistogram()
              .Name("gabe_http_request_duration_seconds")
              .Help("Time from the request's header to the end of the answer, by route template")
              .Labels({{"service", service}})
              .Register(*registry_)) {}

void Metrics::observe_request(const http::Request& request, int status, double seconds) {
  std::string route = request.route.empty() ? "unmatched" : request.route;
  std::string method(http::method_name(request.method));
  requests_.Add({{"route", route}, {"method", method}, {"status", std::to_string(status)}})
      .Increment();
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10};
  durations_.Add({{"route", route}, {"method", method}}, kBuckets).Observe(seconds);
}

std::string Metrics::serialize() const {
  return prometheus::TextSerializer().Serialize(registry_->Collect());
}

}  // namespace gabe
