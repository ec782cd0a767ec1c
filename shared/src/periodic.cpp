#include "gabe/periodic.hpp"

#include <exception>
#include <typeinfo>
#include <utility>

#include "gabe/log.hpp"

namespace gabe {

PeriodicWorker::~PeriodicWorker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PeriodicWorker::start(std::chrono::milliseconds interval, std::string failure, Round round,
                           First first) {
  thread_ = std::thread([this, interval, failure = std::move(failure), round = std::move(round),
                         first] { run(interval, failure, round, first); });
}

void PeriodicWorker::wake() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    woken_ = true;
  }
  wake_.notify_all();
}

bool PeriodicWorker::stopping() {
  std::lock_guard<std::mutex> lock(mutex_);
  return stop_;
}

bool PeriodicWorker::wait(std::chrono::milliseconds interval) {
  std::unique_lock<std::mutex> lock(mutex_);
  wake_.wait_for(lock, interval, [this] { return stop_ || woken_; });
  woken_ = false;
  return !stop_;
}

void PeriodicWorker::run(std::chrono::milliseconds interval, const std::string& failure,
                         const Round& round, First first) {
  if (first == First::after_interval && !wait(interval)) return;
  for (;;) {
    bool more = false;
    try {
      more = round();
    } catch (const std::exception& e) {
      log::warn(failure, {{"kind", typeid(e).name()}});
    }
    if (more ? stopping() : !wait(interval)) return;
  }
}

}  // namespace gabe
