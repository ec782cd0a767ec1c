// Group commit for webhooks: concurrent requests hand their event to a writer, which applies
// whatever is waiting as one batch (one statement, one commit) and answers each request with
// its own outcome only after that commit. Per-statement and per-commit costs are shared by
// the batch instead of paid by every event.
//
// `writers` batches may be applied at once; the batcher runs one thread more than that, so
// that while one thread answers the requests of a committed batch, another already applies
// the next. With one writer (the default), a batch holds everything that arrived while the
// previous one was applied: few, large batches, which cost the database least.
//
// Applying is a function (the service passes ingest.apply_events through its pool), so the
// batching is tested without a database (tests/unit/event_batcher_test.cpp).
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "canonical_event.hpp"
#include "event_store.hpp"

namespace gabe::ingest {

class EventBatcher {
 public:
  // Applies a batch; returns one outcome per event, in order, or throws.
  using ApplyFn = std::function<std::vector<ApplyOutcome>(const std::vector<CanonicalEvent>&)>;

  EventBatcher(ApplyFn apply, std::size_t writers, std::size_t max_batch,
               std::chrono::microseconds linger);
  ~EventBatcher();
  EventBatcher(const EventBatcher&) = delete;
  EventBatcher& operator=(const EventBatcher&) = delete;

  // Blocks until the event's batch is committed; throws what applying it threw (e.g. a 503
  // Problem while the database is away).
  ApplyOutcome apply(CanonicalEvent event);

 private:
  struct Pending {
    CanonicalEvent event;
    std::promise<ApplyOutcome> done;
  };
  void write_loop();
  std::vector<Pending*> take_batch();
  bool front_is_barrier() const;
  bool may_take() const;
  struct Answer {
    ApplyOutcome outcome;
    std::exception_ptr failure;  // set instead of outcome when applying failed
  };
  std::vector<Answer> apply_batch(const std::vector<Pending*>& batch);

  ApplyFn apply_;
  std::size_t max_batch_;
  std::chrono::microseconds linger_;
  std::size_t writers_limit_;     // batches applied at once, at most
  std::size_t busy_ = 0;          // batches being applied now
  bool barrier_running_ = false;  // a merge or erasure is being applied
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<Pending*> queue_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace gabe::ingest
