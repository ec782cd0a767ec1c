#include "event_batcher.hpp"

namespace gabe::ingest {

EventBatcher::EventBatcher(ApplyFn apply, std::size_t writers, std::size_t max_batch,
                           std::chrono::microseconds linger)
    : apply_(std::move(apply)), max_batch_(max_batch), linger_(linger), writers_limit_(writers) {
  for (std::size_t i = 0; i < writers + 1; ++i) threads_.emplace_back([this] { write_loop(); });
}

EventBatcher::~EventBatcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& t : threads_) t.join();
}

ApplyOutcome EventBatcher::apply(CanonicalEvent event) {
  Pending pending{std::move(event), {}};
  auto result = pending.done.get_future();
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(&pending);
  }
  ready_.notify_one();
  return result.get();
}

// Merges and erasures depend on everything before them: they go alone.
std::vector<EventBatcher::Pending*> EventBatcher::take_batch() {
  std::vector<Pending*> batch;
  if (front_is_barrier()) {
    batch.push_back(queue_.front());
    queue_.pop_front();
    return batch;
  }
  while (!queue_.empty() && batch.size() < max_batch_ && !front_is_barrier()) {
    batch.push_back(queue_.front());
    queue_.pop_front();
  }
  return batch;
}

bool EventBatcher::front_is_barrier() const {
  return queue_.front()->event.is_barrier() && !queue_.front()->event.reject;
}

// A thread may take from the queue while fewer than `writers` batches are being applied,
// unless a merge or erasure is being applied, or one is next and other batches are still
// being applied: those depend on everything before them.
bool EventBatcher::may_take() const {
  return !queue_.empty() && busy_ < writers_limit_ && !barrier_running_ &&
         !(front_is_barrier() && busy_ > 0);
}

void EventBatcher::write_loop() {
  while (true) {
    std::vector<Pending*> batch;
    bool more = false;
    bool barrier = false;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return (stopping_ && queue_.empty()) || may_take(); });
      if (queue_.empty()) return;  // stopping, nothing left
      // While another batch is on its way to the database, more requests arrive: waiting a
      // moment for them makes batches larger, and a large batch costs the database far less
      // per event than several small ones. A lone request is applied at once.
      if (busy_ > 0 && !front_is_barrier()) {
        ready_.wait_for(lock, linger_, [this] { return stopping_ || queue_.size() >= max_batch_; });
        if (!may_take()) continue;  // another writer took them, or a barrier is running
      }
      barrier = front_is_barrier();
      batch = take_batch();
      more = !queue_.empty();
      ++busy_;
      barrier_running_ = barrier;
    }
    if (more) ready_.notify_one();  // for another writer
    auto answers = apply_batch(batch);
    {
      std::lock_guard lock(mutex_);
      --busy_;
      if (barrier) barrier_running_ = false;
    }
    // The next batch may start now (a barrier may be waiting for this one, or others for the
    // barrier), while this thread answers.
    ready_.notify_all();
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (answers[i].failure) {
        batch[i]->done.set_exception(answers[i].failure);
      } else {
        batch[i]->done.set_value(std::move(answers[i].outcome));
      }
    }
  }
}

std::vector<EventBatcher::Answer> EventBatcher::apply_batch(const std::vector<Pending*>& batch) {
  // Every event gets exactly one answer, whatever fails; nothing escapes the writer.
  std::vector<Answer> answers(batch.size());
  std::vector<CanonicalEvent> events;
  std::exception_ptr failure;
  bool one_by_one = false;
  try {
    events.reserve(batch.size());
    for (auto* p : batch) events.push_back(p->event);
    auto outcomes = apply_(events);
    if (outcomes.size() != batch.size()) throw internal_error();
    for (std::size_t i = 0; i < batch.size(); ++i) answers[i].outcome = std::move(outcomes[i]);
    return answers;
  } catch (const Problem& p) {
    failure = std::current_exception();
    // The database is away: every request gets the 503. Otherwise one event may be at fault.
    one_by_one = p.status() != 503 && batch.size() > 1 && events.size() == batch.size();
  } catch (...) {
    failure = std::current_exception();
    one_by_one = batch.size() > 1 && events.size() == batch.size();
  }
  if (!one_by_one) {
    for (auto& a : answers) a.failure = failure;
    return answers;
  }
  for (std::size_t i = 0; i < batch.size(); ++i) {
    try {
      auto one = apply_(std::vector<CanonicalEvent>{events[i]});
      if (one.size() != 1) throw internal_error();
      answers[i].outcome = std::move(one[0]);
    } catch (...) {
      answers[i].failure = std::current_exception();
    }
  }
  return answers;
}

}  // namespace gabe::ingest
