// A service's background loop: one round at start (or after one interval), then one every interval,
// on a thread of its own, until the owner is destroyed. A round that throws is logged with the
// exception's type only (its text may carry data from the database) and the next round tries again:
// a database that is away is no reason to stop.
//
// Declare the worker as the owner's last member and call start() at the end of the owner's
// constructor: the thread then starts once everything a round uses exists, and is stopped and
// joined before any of it is destroyed.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace gabe {

class PeriodicWorker {
 public:
  // Returns true when more work is waiting and the next round should start at once.
  using Round = std::function<bool()>;

  PeriodicWorker() = default;
  ~PeriodicWorker();
  PeriodicWorker(const PeriodicWorker&) = delete;
  PeriodicWorker& operator=(const PeriodicWorker&) = delete;

  enum class First { at_start, after_interval };
  // `failure` is the log message of a round that threw.
  void start(std::chrono::milliseconds interval, std::string failure, Round round,
             First first = First::at_start);
  // Starts the next round now rather than at the end of the interval.
  void wake();
  // True once the owner is being destroyed: a long round asks between its steps.
  bool stopping();

 private:
  void run(std::chrono::milliseconds interval, const std::string& failure, const Round& round,
           First first);
  // Waits the interval or until woken; false once stopping.
  bool wait(std::chrono::milliseconds interval);

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stop_ = false;
  bool woken_ = false;
  std::thread thread_;
};

}  // namespace gabe
