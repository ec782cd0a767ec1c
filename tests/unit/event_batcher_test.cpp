#include "event_batcher.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <latch>
#include <map>
#include <set>
#include <thread>

#include "gabe/problem.hpp"

namespace gabe::ingest {
namespace {

using namespace std::chrono_literals;

CanonicalEvent make_event(const std::string& id, const std::string& type = "gift.created") {
  CanonicalEvent e;
  e.source = "crm";
  e.event_id = id;
  e.type = type;
  return e;
}

// Stands in for ingest.apply_events: records every batch, can be held at a gate, and marks
// each event as committed only as the last thing before it returns.
class FakeDatabase {
 public:
  std::function<void(const std::vector<CanonicalEvent>&)> before_return;

  std::vector<ApplyOutcome> operator()(const std::vector<CanonicalEvent>& events) {
    std::vector<std::string> ids;
    bool barrier = false;
    for (const auto& e : events) {
      ids.push_back(e.event_id);
      barrier = barrier || e.is_barrier();
    }
    {
      std::unique_lock lock(mutex_);
      batches_.push_back(ids);
      ++running_;
      if (barrier_running_ || (barrier && running_ > 1)) ++barrier_overlaps_;
      barrier_running_ = barrier_running_ || barrier;
      gate_open_.wait(lock, [&] { return open_; });
    }
    std::this_thread::sleep_for(hold_);
    if (before_return) before_return(events);  // may throw
    std::vector<ApplyOutcome> out;
    for (const auto& e : events) out.push_back({e.event_id, "processed", ""});
    std::lock_guard lock(mutex_);
    for (const auto& e : events) committed_.insert(e.event_id);
    --running_;
    if (barrier) barrier_running_ = false;
    return out;
  }

  void close_gate() {
    std::lock_guard lock(mutex_);
    open_ = false;
  }
  void open_gate() {
    {
      std::lock_guard lock(mutex_);
      open_ = true;
    }
    gate_open_.notify_all();
  }
  void hold_each_batch(std::chrono::milliseconds hold) { hold_ = hold; }
  bool committed(const std::string& id) {
    std::lock_guard lock(mutex_);
    return committed_.count(id) == 1;
  }
  std::vector<std::vector<std::string>> batches() {
    std::lock_guard lock(mutex_);
    return batches_;
  }
  std::size_t batch_count() {
    std::lock_guard lock(mutex_);
    return batches_.size();
  }
  int barrier_overlaps() {
    std::lock_guard lock(mutex_);
    return barrier_overlaps_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable gate_open_;
  bool open_ = true;
  std::chrono::milliseconds hold_{0};
  std::vector<std::vector<std::string>> batches_;
  std::set<std::string> committed_;
  int running_ = 0;
  bool barrier_running_ = false;
  int barrier_overlaps_ = 0;
};

EventBatcher::ApplyFn through(FakeDatabase& db) {
  return [&db](const std::vector<CanonicalEvent>& events) { return db(events); };
}

// Waits (at most 5 s) until `db` has been called `n` times.
bool wait_for_batches(FakeDatabase& db, std::size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (db.batch_count() < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

TEST(EventBatcher, ConcurrentSubmittersAreAnsweredAfterTheirBatchWithNothingLostOrDoubled) {
  FakeDatabase db;
  db.hold_each_batch(5ms);  // while one batch is applied, the next fills up
  constexpr int kThreads = 48;
  constexpr int kEach = 20;
  std::atomic<int> answered_early{0}, wrong_answer{0};
  {
    EventBatcher batcher(through(db), 2, 64, 1000us);
    std::latch start(kThreads);
    std::vector<std::thread> submitters;
    for (int t = 0; t < kThreads; ++t) {
      submitters.emplace_back([&, t] {
        start.arrive_and_wait();  // every submitter starts at once
        for (int i = 0; i < kEach; ++i) {
          const std::string id = std::to_string(t) + "-" + std::to_string(i);
          auto outcome = batcher.apply(make_event(id));
          if (!db.committed(id)) ++answered_early;
          if (outcome.event_id != id || outcome.status != "processed") ++wrong_answer;
        }
      });
    }
    for (auto& s : submitters) s.join();
  }
  EXPECT_EQ(answered_early.load(), 0);
  EXPECT_EQ(wrong_answer.load(), 0);
  std::map<std::string, int> seen;
  std::size_t largest = 0;
  for (const auto& batch : db.batches()) {
    largest = std::max(largest, batch.size());
    for (const auto& id : batch) ++seen[id];
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(kThreads * kEach));  // none lost
  for (const auto& [id, times] : seen) EXPECT_EQ(times, 1) << id;      // none doubled
  EXPECT_GT(largest, 1u) << "concurrent submitters must share batches";
  EXPECT_LE(largest, 64u);
  EXPECT_LT(db.batches().size(), static_cast<std::size_t>(kThreads * kEach));
}

struct Answer {
  bool failed = false;
  int status = 0;
};

// In the failure tests, "first" is held at the gate while the others queue up behind it and
// then go as one batch.
TEST(EventBatcher, ADatabaseOutageFailsExactlyTheSubmittersOfItsBatch) {
  FakeDatabase db;
  db.before_return = [](const std::vector<CanonicalEvent>& events) {
    for (const auto& e : events)
      if (e.event_id == "poison") throw service_unavailable("The database is away.");
  };
  EventBatcher batcher(through(db), 1, 256, 0us);
  std::map<std::string, Answer> answers;
  std::mutex answers_mutex;
  auto submit = [&](const std::string& id) {
    Answer a;
    try {
      batcher.apply(make_event(id));
    } catch (const Problem& p) {
      a = {true, p.status()};
    }
    std::lock_guard lock(answers_mutex);
    answers[id] = a;
  };
  db.close_gate();
  std::thread first(submit, "first");
  ASSERT_TRUE(wait_for_batches(db, 1));
  // While "first" is held, these queue up and become the second batch.
  std::vector<std::thread> second;
  for (const auto* id : {"a", "poison", "b", "c"}) second.emplace_back(submit, id);
  std::this_thread::sleep_for(200ms);
  db.open_gate();
  first.join();
  for (auto& s : second) s.join();
  submit("after");
  const auto batches = db.batches();
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[1].size(), 4u);
  EXPECT_FALSE(answers["first"].failed);
  for (const auto* id : {"a", "poison", "b", "c"}) {
    EXPECT_TRUE(answers[id].failed) << id;
    EXPECT_EQ(answers[id].status, 503) << id;
  }
  EXPECT_FALSE(answers["after"].failed);
}

TEST(EventBatcher, AnEventThatBreaksItsBatchFailsAloneWhenRetriedOneByOne) {
  FakeDatabase db;
  db.before_return = [](const std::vector<CanonicalEvent>& events) {
    for (const auto& e : events)
      if (e.event_id == "poison") throw std::runtime_error("constraint violated");
  };
  EventBatcher batcher(through(db), 1, 256, 0us);
  std::map<std::string, bool> failed;
  std::mutex failed_mutex;
  auto submit = [&](const std::string& id) {
    bool f = false;
    try {
      batcher.apply(make_event(id));
    } catch (const std::runtime_error&) {
      f = true;
    }
    std::lock_guard lock(failed_mutex);
    failed[id] = f;
  };
  db.close_gate();
  std::thread first(submit, "first");
  ASSERT_TRUE(wait_for_batches(db, 1));
  std::vector<std::thread> second;
  for (const auto* id : {"a", "poison", "b"}) second.emplace_back(submit, id);
  std::this_thread::sleep_for(200ms);
  db.open_gate();
  first.join();
  for (auto& s : second) s.join();
  const auto batches = db.batches();
  ASSERT_EQ(batches.size(), 5u);  // first, the three together, then each of them alone
  EXPECT_EQ(batches[1].size(), 3u);
  EXPECT_EQ(batches[2].size() + batches[3].size() + batches[4].size(), 3u);
  EXPECT_FALSE(failed["first"]);
  EXPECT_FALSE(failed["a"]);
  EXPECT_TRUE(failed["poison"]);
  EXPECT_FALSE(failed["b"]);
}

TEST(EventBatcher, MergesAndErasuresAreAppliedAloneAndNeverBesideAnotherBatch) {
  FakeDatabase db;
  db.hold_each_batch(1ms);
  constexpr int kThreads = 16;
  {
    EventBatcher batcher(through(db), 4, 64, 500us);
    std::latch start(kThreads);
    std::vector<std::thread> submitters;
    for (int t = 0; t < kThreads; ++t) {
      submitters.emplace_back([&, t] {
        start.arrive_and_wait();
        for (int i = 0; i < 30; ++i) {
          const std::string id = std::to_string(t) + "-" + std::to_string(i);
          const char* type =
              i % 10 == 3 ? "donor.merged" : (i % 10 == 7 ? "donor.erased" : "gift.created");
          batcher.apply(make_event(id, type));
        }
      });
    }
    for (auto& s : submitters) s.join();
  }
  int barriers = 0;
  for (const auto& batch : db.batches()) {
    for (const auto& id : batch) {
      const int i = std::stoi(id.substr(id.find('-') + 1));
      if (i % 10 == 3 || i % 10 == 7) {
        ++barriers;
        EXPECT_EQ(batch.size(), 1u) << "a merge or erasure shared its batch";
      }
    }
  }
  EXPECT_EQ(barriers, kThreads * 6);
  EXPECT_EQ(db.barrier_overlaps(), 0) << "a batch was applied while a merge or erasure was";
}

TEST(EventBatcher, ARejectedMergeIsNoBarrier) {
  FakeDatabase db;
  EventBatcher batcher(through(db), 1, 256, 0us);
  db.close_gate();
  std::thread first([&] { batcher.apply(make_event("first")); });
  ASSERT_TRUE(wait_for_batches(db, 1));
  auto rejected = make_event("bad-merge", "donor.merged");
  rejected.reject = "merged_refs is missing";
  std::thread a([&] { batcher.apply(make_event("a")); });
  std::thread m([&] { batcher.apply(rejected); });
  std::this_thread::sleep_for(200ms);
  db.open_gate();
  first.join();
  a.join();
  m.join();
  const auto batches = db.batches();
  ASSERT_EQ(batches.size(), 2u);
  EXPECT_EQ(batches[1].size(), 2u);
}

// A second writer waits for company at most the linger time while another batch is still being
// applied. The bounds are wide: under sanitizers on a loaded machine threads start late.
TEST(EventBatcher, TheWaitForMoreEventsIsBounded) {
  FakeDatabase db;
  EventBatcher batcher(through(db), 3, 3, 150ms);
  db.close_gate();
  std::thread held([&] { batcher.apply(make_event("held")); });
  ASSERT_TRUE(wait_for_batches(db, 1));
  const auto started = std::chrono::steady_clock::now();
  std::thread late([&] { batcher.apply(make_event("late")); });
  ASSERT_TRUE(wait_for_batches(db, 2));
  const auto waited = std::chrono::steady_clock::now() - started;
  db.open_gate();
  held.join();
  late.join();
  EXPECT_GE(waited, 140ms);
  EXPECT_LT(waited, 4s);
  EXPECT_EQ(db.batches()[1], std::vector<std::string>{"late"});
}

// A lone request and a full batch go at once: with a linger time of a minute, anything that
// waited for it would miss the five-second window of wait_for_batches.
TEST(EventBatcher, ALoneRequestAndAFullBatchDoNotWaitForTheLingerTime) {
  FakeDatabase db;
  EventBatcher batcher(through(db), 3, 3, 60s);
  {
    const auto started = std::chrono::steady_clock::now();
    batcher.apply(make_event("alone"));
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s) << "a lone request waited";
  }
  db.close_gate();
  std::thread held([&] { batcher.apply(make_event("held")); });
  ASSERT_TRUE(wait_for_batches(db, 2));
  std::vector<std::thread> full;
  for (const auto* id : {"f1", "f2", "f3"})
    full.emplace_back([&, id] { batcher.apply(make_event(id)); });
  const bool went = wait_for_batches(db, 3);
  db.open_gate();
  held.join();
  for (auto& f : full) f.join();
  ASSERT_TRUE(went) << "a full batch waited for the linger time";
  EXPECT_EQ(db.batches()[2].size(), 3u);
}

}  // namespace
}  // namespace gabe::ingest
