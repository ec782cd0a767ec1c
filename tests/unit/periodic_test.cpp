#include "gabe/periodic.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>

namespace gabe {
namespace {

using namespace std::chrono_literals;

// Waits (at most 5 s) until `count` reaches `n`.
bool wait_for(const std::atomic<int>& count, int n) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (count.load() < n) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
  return true;
}

// The intervals are an hour: a round that came from the timer would miss every window.
TEST(PeriodicWorker, RunsOnceAtStartAndAgainWhenWoken) {
  std::atomic<int> rounds{0};
  PeriodicWorker worker;
  worker.start(1h, "test round failed", [&] {
    ++rounds;
    return false;
  });
  ASSERT_TRUE(wait_for(rounds, 1));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(rounds.load(), 1) << "a round ran without being due";
  worker.wake();
  ASSERT_TRUE(wait_for(rounds, 2));
}

TEST(PeriodicWorker, ARoundWithMoreWorkIsFollowedAtOnce) {
  std::atomic<int> rounds{0};
  PeriodicWorker worker;
  worker.start(1h, "test round failed", [&] { return ++rounds < 5; });
  ASSERT_TRUE(wait_for(rounds, 5));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(rounds.load(), 5);
}

TEST(PeriodicWorker, ARoundThatThrowsDoesNotStopTheLoop) {
  std::atomic<int> rounds{0};
  PeriodicWorker worker;
  worker.start(1h, "test round failed", [&]() -> bool {
    if (++rounds == 1) throw std::runtime_error("the database is away");
    return false;
  });
  ASSERT_TRUE(wait_for(rounds, 1));
  worker.wake();
  ASSERT_TRUE(wait_for(rounds, 2));
}

TEST(PeriodicWorker, DestroyingItStopsALongRoundBetweenItsSteps) {
  std::atomic<int> steps{0};
  std::atomic<bool> saw_stop{false};
  const auto started = std::chrono::steady_clock::now();
  {
    PeriodicWorker worker;
    worker.start(1h, "test round failed", [&] {
      while (!worker.stopping() && steps < 100000) {
        ++steps;
        std::this_thread::sleep_for(1ms);
      }
      saw_stop = worker.stopping();
      return false;
    });
    ASSERT_TRUE(wait_for(steps, 1));
  }
  EXPECT_TRUE(saw_stop.load());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 30s);
}

TEST(PeriodicWorker, AFirstRoundAfterTheIntervalWaitsForIt) {
  std::atomic<int> rounds{0};
  PeriodicWorker worker;
  worker.start(
      1h, "test round failed",
      [&] {
        ++rounds;
        return false;
      },
      PeriodicWorker::First::after_interval);
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(rounds.load(), 0) << "the first round ran at start";
  worker.wake();
  ASSERT_TRUE(wait_for(rounds, 1));
}

TEST(PeriodicWorker, AWorkerNeverStartedIsDestroyedQuietly) {
  PeriodicWorker worker;
}

}  // namespace
}  // namespace gabe
