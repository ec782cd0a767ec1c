#include "event_batcher.hpp"

namespace gabe::ingest {

EventBatcher::EventBatcher(db::Pool& pool, std::size_t writers, std::size_t max_batch,
                           std::chrono::microseconds linger)
    : pool_(pool), max_batch_(max_batch), linger_(linger) {
  for (std::size_t i = 0; i < writers; ++i) writers_.emplace_back([this] { write_loop(); });
}

EventBatcher::~EventBatcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_all();
  for (auto& t : writers_) t.join();
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
  if (queue_.front()->event.is_barrier() && !queue_.front()->event.reject) {
    batch.push_back(queue_.front());
    queue_.pop_front();
    return batch;
  }
  while (!queue_.empty() && batch.size() < max_batch_ &&
         !(queue_.front()->event.is_barrier() && !queue_.front()->event.reject)) {
    batch.push_back(queue_.front());
    queue_.pop_front();
  }
  return batch;
}

void EventBatcher::write_loop() {
  while (true) {
    std::vector<Pending*> batch;
    bool more = false;
    {
      std::unique_lock lock(mutex_);
      ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      // While another batch is on its way to the database, more requests arrive: waiting a
      // moment for them makes batches larger, and a large batch costs the database far less
      // per event than several small ones. A lone request is applied at once.
      if (busy_ > 0) {
        ready_.wait_for(lock, linger_, [this] { return stopping_ || queue_.size() >= max_batch_; });
        if (queue_.empty()) continue;  // another writer took them meanwhile
      }
      batch = take_batch();
      more = !queue_.empty();
      ++busy_;
    }
    if (more) ready_.notify_one();  // for another writer
    apply_batch(batch);
    {
      std::lock_guard lock(mutex_);
      --busy_;
    }
  }
}

void EventBatcher::apply_batch(const std::vector<Pending*>& batch) {
  std::vector<CanonicalEvent> events;
  events.reserve(batch.size());
  for (auto* p : batch) events.push_back(p->event);
  try {
    auto outcomes = pool_.run([&](pqxx::connection& c) { return apply_events(c, events); });
    for (std::size_t i = 0; i < batch.size(); ++i) batch[i]->done.set_value(std::move(outcomes[i]));
    return;
  } catch (const Problem& p) {
    if (p.status() == 503 || batch.size() == 1) {
      // The database is away (or the single event failed): every request gets the error.
      for (auto* pending : batch) pending->done.set_exception(std::current_exception());
      return;
    }
  } catch (...) {
    if (batch.size() == 1) {
      batch[0]->done.set_exception(std::current_exception());
      return;
    }
  }
  // Something in the batch failed: one by one, so that one bad event fails alone.
  for (std::size_t i = 0; i < batch.size(); ++i) {
    try {
      auto one = pool_.run([&](pqxx::connection& c) { return apply_events(c, {events[i]}); });
      batch[i]->done.set_value(std::move(one.at(0)));
    } catch (...) {
      batch[i]->done.set_exception(std::current_exception());
    }
  }
}

}  // namespace gabe::ingest
