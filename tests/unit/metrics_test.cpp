// The metrics helper: handles for counters, gauges and histograms, and the naming rules.
#include <gtest/gtest.h>

#include "gabe/metrics.hpp"

namespace gabe {
namespace {

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Metrics, CounterGaugeAndHistogramAreServed) {
  Metrics m("ingest");
  auto events = m.counter("gabe_ingest_events_total", "Events", {"channel", "outcome"});
  events.add({"webhook", "processed"});
  events.add({"webhook", "processed"});
  events.add({"import", "rejected"}, 5);
  auto depth = m.gauge("gabe_test_queue_depth", "Waiting", {"queue"});
  depth.set({"webhooks"}, 3);
  depth.add({"webhooks"}, -1);
  auto latency = m.histogram("gabe_test_apply_seconds", "Apply", {}, {0.1, 1});
  latency.observe({}, 0.5);
  const auto text = m.serialize();
  EXPECT_TRUE(has(text, R"(gabe_ingest_events_total{channel="webhook",outcome="processed"} 2)"))
      << text;
  EXPECT_TRUE(has(text, R"(gabe_ingest_events_total{channel="import",outcome="rejected"} 5)"));
  EXPECT_TRUE(has(text, R"(gabe_test_queue_depth{queue="webhooks"} 2)"));
  EXPECT_TRUE(has(text, R"(gabe_test_apply_seconds_bucket{le="0.1"} 0)"));
  EXPECT_TRUE(has(text, R"(gabe_test_apply_seconds_bucket{le="1"} 1)"));
}

TEST(Metrics, RequestsAreLabelledByRouteTemplateAndService) {
  Metrics m("ingest");
  http::Request r;
  r.method = http::Method::get;
  r.route = "/v1/donors/{id}";
  m.observe_request(r, 200, 0.002);
  m.observe_request(http::Request(), 404, 0.001);
  const auto text = m.serialize();
  EXPECT_TRUE(has(
      text,
      R"(gabe_http_requests_total{service="ingest",method="GET",route="/v1/donors/{id}",status="200"} 1)"))
      << text;
  EXPECT_TRUE(has(
      text,
      R"(gabe_http_requests_total{service="ingest",method="OTHER",route="unmatched",status="404"} 1)"));
  EXPECT_TRUE(has(text, "gabe_http_request_duration_seconds_bucket{"));
}

TEST(Metrics, NamesFollowPrometheusConventions) {
  Metrics m("ingest");
  EXPECT_THROW(m.counter("gabe_events", "no _total", {}), std::invalid_argument);
  EXPECT_THROW(m.counter("events_total", "no gabe_ prefix", {}), std::invalid_argument);
  EXPECT_THROW(m.counter("gabe_Events_total", "not snake case", {}), std::invalid_argument);
  EXPECT_THROW(m.gauge("gabe_events_total", "a gauge is not a total", {}), std::invalid_argument);
  EXPECT_THROW(m.histogram("gabe_apply", "no unit", {}, {1}), std::invalid_argument);
  EXPECT_THROW(m.histogram("gabe_apply_seconds", "unsorted", {}, {1, 0.5}), std::invalid_argument);
  EXPECT_THROW(m.counter("gabe_x_total", "bad label", {"Route"}), std::invalid_argument);
  EXPECT_THROW(m.counter("gabe_http_requests_total", "registered twice", {}),
               std::invalid_argument);
}

TEST(Metrics, WrongNumberOfLabelValuesIsAProgrammingError) {
  Metrics m("ingest");
  auto c = m.counter("gabe_x_total", "x", {"a", "b"});
  EXPECT_THROW(c.add({"only one"}), std::invalid_argument);
}

}  // namespace
}  // namespace gabe
