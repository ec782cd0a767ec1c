#include "gabe/metrics.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

namespace gabe {

namespace metrics_detail {

template <typename T>
struct Family {
  prometheus::Family<T>& family;
  std::vector<std::string> labels;

  std::map<std::string, std::string> label_map(
      std::initializer_list<std::string_view> values) const {
    if (values.size() != labels.size())
      throw std::invalid_argument("expected " + std::to_string(labels.size()) + " label values");
    std::map<std::string, std::string> out;
    auto value = values.begin();
    for (const auto& name : labels) out.emplace(name, std::string(*value++));
    return out;
  }
};

struct CounterFamily : Family<prometheus::Counter> {};
struct GaugeFamily : Family<prometheus::Gauge> {};
struct HistogramFamily : Family<prometheus::Histogram> {
  prometheus::Histogram::BucketBoundaries buckets;
};

}  // namespace metrics_detail

namespace {

bool is_snake_case(std::string_view s) {
  if (s.empty() || !(s.front() >= 'a' && s.front() <= 'z')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

}  // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::set<std::string> names;
  std::string service;
  Counter requests{nullptr};
  Histogram durations{nullptr};

  void check(const std::string& name, const std::vector<std::string>& labels) {
    if (name.rfind("gabe_", 0) != 0 || !is_snake_case(name))
      throw std::invalid_argument("metric name '" + name + "' is not gabe_ in lower snake case");
    for (const auto& l : labels) {
      if (!is_snake_case(l) || l == "le" || l == "quantile")
        throw std::invalid_argument(
            std::string("label '").append(l).append("' of ").append(name).append(
                " is not allowed"));
    }
    if (!names.insert(name).second)
      throw std::invalid_argument("metric " + name + " is registered twice");
  }
};

void Counter::add(std::initializer_list<std::string_view> label_values, double amount) const {
  family_->family.Add(family_->label_map(label_values)).Increment(amount);
}

void Gauge::set(std::initializer_list<std::string_view> label_values, double value) const {
  family_->family.Add(family_->label_map(label_values)).Set(value);
}

void Gauge::add(std::initializer_list<std::string_view> label_values, double amount) const {
  family_->family.Add(family_->label_map(label_values)).Increment(amount);
}

void Histogram::observe(std::initializer_list<std::string_view> label_values, double value) const {
  family_->family.Add(family_->label_map(label_values), family_->buckets).Observe(value);
}

Metrics::Metrics(const std::string& service) : impl_(std::make_unique<Impl>()) {
  impl_->service = service;
  impl_->requests = make_counter("gabe_http_requests_total",
                                 "HTTP requests answered, by route template, method and status",
                                 {"route", "method", "status"}, true);
  impl_->durations =
      make_histogram("gabe_http_request_duration_seconds",
                     "Time from the request's header to the end of the answer, by route template",
                     {"route", "method"},
                     {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10}, true);
}

Metrics::~Metrics() = default;

Counter Metrics::counter(const std::string& name, const std::string& help,
                         std::vector<std::string> labels) {
  return make_counter(name, help, std::move(labels), false);
}

// The platform's own request metrics carry the service's name as a constant label.
Counter Metrics::make_counter(const std::string& name, const std::string& help,
                              std::vector<std::string> labels, bool with_service) {
  impl_->check(name, labels);
  if (!ends_with(name, "_total"))
    throw std::invalid_argument("counter " + name + " does not end in _total");
  auto builder = prometheus::BuildCounter().Name(name).Help(help);
  if (with_service) builder.Labels({{"service", impl_->service}});
  auto& family = builder.Register(*impl_->registry);
  return Counter(std::make_shared<metrics_detail::CounterFamily>(
      metrics_detail::CounterFamily{{family, std::move(labels)}}));
}

Gauge Metrics::gauge(const std::string& name, const std::string& help,
                     std::vector<std::string> labels) {
  impl_->check(name, labels);
  if (ends_with(name, "_total"))
    throw std::invalid_argument("gauge " + name + " ends in _total, as only counters do");
  auto& family = prometheus::BuildGauge().Name(name).Help(help).Register(*impl_->registry);
  return Gauge(std::make_shared<metrics_detail::GaugeFamily>(
      metrics_detail::GaugeFamily{{family, std::move(labels)}}));
}

Histogram Metrics::histogram(const std::string& name, const std::string& help,
                             std::vector<std::string> labels, std::vector<double> buckets) {
  return make_histogram(name, help, std::move(labels), std::move(buckets), false);
}

Histogram Metrics::make_histogram(const std::string& name, const std::string& help,
                                  std::vector<std::string> labels, std::vector<double> buckets,
                                  bool with_service) {
  impl_->check(name, labels);
  if (!ends_with(name, "_seconds") && !ends_with(name, "_bytes"))
    throw std::invalid_argument("histogram " + name + " does not end in its unit");
  if (buckets.empty() || !std::is_sorted(buckets.begin(), buckets.end()))
    throw std::invalid_argument("histogram " + name + " needs ascending buckets");
  auto builder = prometheus::BuildHistogram().Name(name).Help(help);
  if (with_service) builder.Labels({{"service", impl_->service}});
  auto& family = builder.Register(*impl_->registry);
  return Histogram(std::make_shared<metrics_detail::HistogramFamily>(
      metrics_detail::HistogramFamily{{family, std::move(labels)}, std::move(buckets)}));
}

void Metrics::observe_request(const http::Request& request, int status, double seconds) {
  const std::string_view route =
      request.route.empty() ? std::string_view("unmatched") : std::string_view(request.route);
  const std::string_view method = http::method_name(request.method);
  impl_->requests.add({route, method, std::to_string(status)});
  impl_->durations.observe({route, method}, seconds);
}

std::string Metrics::serialize() const {
  return prometheus::TextSerializer().Serialize(impl_->registry->Collect());
}

}  // namespace gabe
