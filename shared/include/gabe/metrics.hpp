// Prometheus metrics, served by the service's own HTTP server (GET /metrics). A service
// registers its metrics here once, at start, and keeps the small handles; prometheus-cpp stays
// inside metrics.cpp. Names follow Prometheus conventions (checked at registration): lower
// snake case starting with gabe_, a counter ends in _total, a histogram names its unit.
// Label values are bounded sets (route templates, outcomes), never ids or personal data.
#pragma once

#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gabe/http.hpp"

namespace gabe {

namespace metrics_detail {
struct CounterFamily;
struct GaugeFamily;
struct HistogramFamily;
}  // namespace metrics_detail

// Each handle takes the label values in the order of the label names it was registered with.
class Counter {
 public:
  void add(std::initializer_list<std::string_view> label_values, double amount = 1) const;

 private:
  friend class Metrics;
  explicit Counter(std::shared_ptr<metrics_detail::CounterFamily> family)
      : family_(std::move(family)) {}
  std::shared_ptr<metrics_detail::CounterFamily> family_;
};

class Gauge {
 public:
  void set(std::initializer_list<std::string_view> label_values, double value) const;
  void add(std::initializer_list<std::string_view> label_values, double amount) const;

 private:
  friend class Metrics;
  explicit Gauge(std::shared_ptr<metrics_detail::GaugeFamily> family)
      : family_(std::move(family)) {}
  std::shared_ptr<metrics_detail::GaugeFamily> family_;
};

class Histogram {
 public:
  void observe(std::initializer_list<std::string_view> label_values, double value) const;

 private:
  friend class Metrics;
  explicit Histogram(std::shared_ptr<metrics_detail::HistogramFamily> family)
      : family_(std::move(family)) {}
  std::shared_ptr<metrics_detail::HistogramFamily> family_;
};

class Metrics {
 public:
  explicit Metrics(const std::string& service);
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Registers a metric; a name or label that breaks the conventions, or a name registered
  // twice, is a programming error (std::invalid_argument).
  Counter counter(const std::string& name, const std::string& help,
                  std::vector<std::string> labels);
  Gauge gauge(const std::string& name, const std::string& help, std::vector<std::string> labels);
  // Upper bounds of the buckets, ascending.
  Histogram histogram(const std::string& name, const std::string& help,
                      std::vector<std::string> labels, std::vector<double> buckets);

  // gabe_http_requests_total and gabe_http_request_duration_seconds, by route template.
  void observe_request(const http::Request& request, int status, double seconds);
  // Text exposition format 0.0.4.
  std::string serialize() const;

 private:
  Counter make_counter(const std::string& name, const std::string& help,
                       std::vector<std::string> labels, bool with_service);
  Histogram make_histogram(const std::string& name, const std::string& help,
                           std::vector<std::string> labels, std::vector<double> buckets,
                           bool with_service);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace gabe
