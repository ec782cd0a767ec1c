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
                   std::string now, std::size_t batch_size)
    : apply_(std::move(apply)),
      source_exists_(std::move(source_exists)),
      default_source_(std::move(default_source)),
      now_(std::move(now)),
      batch_size_(batch_size) {}

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
  if (barrier) flush();
  pending_.push_back(std::move(event));
  pending_lines_.push_back(number);
  if (barrier || pending_.size() >= batch_size_) flush();
}

void Importer::flush() {
  if (pending_.empty()) return;
  auto outcomes = apply_(pending_);
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const auto& o = outcomes[i];
    if (o.status == "processed") {
      ++summary_.processed;
    } else if (o.status == "duplicate") {
      ++summary_.duplicates;
    } else {
      error(pending_lines_[i], o.error.empty() ? "rejected" : o.error);
    }
  }
  pending_.clear();
  pending_lines_.clear();
}

const ImportSummary& Importer::finish() {
  flush();
  // Lines rejected by the database are known only when their batch is applied.
  std::stable_sort(summary_.errors.begin(), summary_.errors.end(),
                   [](const auto& a, const auto& b) { return a.line < b.line; });
  return summary_;
}

}  // namespace gabe::ingest
