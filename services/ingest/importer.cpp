#include "importer.hpp"

#include <algorithm>

#include "gabe/json.hpp"

namespace gabe::ingest {

std::string ImportSummary::to_json() const {
  JsonWriter w;
  w.begin_object();
  w.field("received", static_cast<std::int64_t>(received));
  w.field("processed", static_cast<std::int64_t>(processed));
  w.field("duplicates", static_cast<std::int64_t>(duplicates));
  w.field("rejected", static_cast<std::int64_t>(rejected));
  w.key("errors").begin_array();
  for (const auto& e : errors) {
    w.begin_object()
        .field("line", static_cast<std::int64_t>(e.line))
        .field("message", e.message)
        .end_object();
  }
  w.end_array().end_object();
  return w.take();
}

Importer::Importer(ApplyFn apply, SourceExistsFn source_exists, std::string default_source,
                   std::string now, std::size_t batch_size, std::size_t in_flight)
    : apply_(std::move(apply)),
      source_exists_(std::move(source_exists)),
      default_source_(std::move(default_source)),
      now_(std::move(now)),
      batch_size_(batch_size),
      max_in_flight_(std::max<std::size_t>(1, in_flight)) {}

Importer::~Importer() {
  // Batches still running (after an error) finish before their inputs go away.
  for (auto& f : in_flight_) f.outcomes.wait();
}

void Importer::error(std::size_t line, std::string message) {
  ++summary_.rejected;
  if (summary_.errors.size() < 100) summary_.errors.push_back({line, std::move(message)});
}

void Importer::line(std::string_view text, std::size_t number, bool too_long) {
  ++summary_.received;
  if (too_long) return error(number, "line is too long");
  CanonicalEvent event;
  try {
    auto doc = parse_json(text);
    map_import_line(event, *doc, default_source_, now_);
  } catch (const Problem& p) {
    return error(number, p.detail());
  }
  if (!source_exists_(event.source))
    return error(number, "unknown source '" + event.source.substr(0, 63) + "'");
  event.raw = std::string(text);
  const bool barrier = event.is_barrier() && !event.reject;
  if (barrier) {
    flush();
    drain();
  }
  pending_.push_back(std::move(event));
  pending_lines_.push_back(number);
  if (barrier || pending_.size() >= batch_size_) flush();
  if (barrier) drain();
}

void Importer::flush() {
  if (pending_.empty()) return;
  InFlight batch;
  batch.lines = std::move(pending_lines_);
  if (max_in_flight_ == 1) {
    std::promise<std::vector<ApplyOutcome>> done;
    done.set_value(apply_(pending_));
    batch.outcomes = done.get_future();
  } else {
    batch.outcomes = std::async(std::launch::async,
                                [this, events = std::move(pending_)] { return apply_(events); });
  }
  pending_.clear();
  pending_lines_.clear();
  in_flight_.push_back(std::move(batch));
  while (in_flight_.size() >= max_in_flight_) collect_oldest();
}

void Importer::drain() {
  while (!in_flight_.empty()) collect_oldest();
}

void Importer::collect_oldest() {
  auto batch = std::move(in_flight_.front());
  in_flight_.pop_front();
  auto outcomes = batch.outcomes.get();
  const auto& lines = batch.lines;
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const auto& o = outcomes[i];
    if (o.status == "processed") {
      ++summary_.processed;
    } else if (o.status == "duplicate") {
      ++summary_.duplicates;
    } else {
      error(lines[i], o.error.empty() ? "rejected" : o.error);
    }
  }
}

const ImportSummary& Importer::finish() {
  flush();
  drain();
  // Lines rejected by the database are known only when their batch is applied.
  std::stable_sort(summary_.errors.begin(), summary_.errors.end(),
                   [](const auto& a, const auto& b) { return a.line < b.line; });
  return summary_;
}

}  // namespace gabe::ingest
