// Bulk import of canonical NDJSON: lines are mapped one by one and applied in batches (a
// merge or erasure alone in its batch), so a file of any size streams through in constant
// memory. Used by POST /v1/import and by `gabectl import`.
#pragma once

#include <deque>
#include <functional>
#include <future>
#include <string>
#include <string_view>
#include <vector>

#include "canonical_event.hpp"
#include "event_store.hpp"

namespace gabe::ingest {

struct ImportSummary {
  std::size_t received = 0;
  std::size_t processed = 0;
  std::size_t duplicates = 0;
  std::size_t rejected = 0;
  struct LineError {
    std::size_t line;
    std::string message;
  };
  std::vector<LineError> errors;  // the first 100
  std::string to_json() const;
};

class Importer {
 public:
  using ApplyFn = std::function<std::vector<ApplyOutcome>(const std::vector<CanonicalEvent>&)>;
  using SourceExistsFn = std::function<bool(const std::string&)>;

  // Up to `in_flight` batches are applied at once (apply must then be thread-safe); a merge
  // or erasure waits for all before it and holds back all after it.
  Importer(ApplyFn apply, SourceExistsFn source_exists, std::string default_source, std::string now,
           std::size_t batch_size = 2000, std::size_t in_flight = 1);
  ~Importer();

  void line(std::string_view text, std::size_t number, bool too_long);
  // Applies what is pending and returns the totals.
  const ImportSummary& finish();

 private:
  void flush();
  void collect_oldest();
  void drain();
  void error(std::size_t line, std::string message);

  ApplyFn apply_;
  SourceExistsFn source_exists_;
  std::string default_source_;
  std::string now_;
  std::size_t batch_size_;
  std::vector<CanonicalEvent> pending_;
  std::vector<std::size_t> pending_lines_;
  struct InFlight {
    std::future<std::vector<ApplyOutcome>> outcomes;
    std::vector<std::size_t> lines;
  };
  std::size_t max_in_flight_;
  std::deque<InFlight> in_flight_;
  ImportSummary summary_;
};

}  // namespace gabe::ingest
