// Prometheus metrics (prometheus-cpp core), served by the service's own HTTP server.
// Request metrics are labelled by route template, never by ids.
#pragma once

#include <memory>
#include <string>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "gabe/http.hpp"

namespace gabe {

class Metrics {
 public:
  explicit Metrics(const std::string& service);
  prometheus::Registry& registry() { return *registry_; }
  void observe_request(const http::Request& request, int status, double seconds);
  // Text exposition format 0.0.4.
  std::string serialize() const;

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Counter>& requests_;
  prometheus::Family<prometheus::Histogram>& durations_;
};

}  // namespace gabe
