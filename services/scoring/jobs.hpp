// Long work outside the request path: trainings and runs on a worker thread with a database
// connection of its own (no statement timeout), the in-service schedule, and the run metrics.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include <pqxx/pqxx>

#include "gabe/cron.hpp"
#include "gabe/metrics.hpp"
#include "runs.hpp"
#include "train_params.hpp"

namespace gabe::scoring {

// Stores a model of `target` as of `as_of` to be trained (status training) and its audit entry
// model.train, in the caller's transaction; returns its id.
std::int64_t create_model(pqxx::transaction_base& tx, const Target& target, Day as_of,
                          const TrainParams& params, const std::string& actor);

// Trains the stored model `model_id` (status training): ready with its card, or failed with
// the reason. Returns whether it succeeded.
bool train_stored_model(pqxx::connection& conn, std::int64_t model_id,
                        const std::atomic<bool>* stop = nullptr);

// Opens a connection for long work: no statement timeout.
std::unique_ptr<pqxx::connection> open_work_connection(const std::string& url);

struct RunMetrics {
  Gauge last_success;
  Gauge duration;
  Gauge drift;
  Gauge scored;
  // Sets every gauge from the latest succeeded run of each target.
  void refresh(pqxx::connection& conn) const;
};

class Worker {
 public:
  Worker(std::string url, RunOptions options, std::optional<Cron> schedule, RunMetrics metrics);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  void train(std::int64_t model_id);
  void run(std::int64_t run_id);

 private:
  void post(std::function<void(pqxx::connection&)> job);
  void work_loop();
  void schedule_loop();
  void schedule_runs(pqxx::connection& conn);
  pqxx::connection& connection();

  std::string url_;
  RunOptions options_;
  std::optional<Cron> schedule_;
  RunMetrics metrics_;
  double started_at_;  // Unix seconds: work created before it and still open was interrupted
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void(pqxx::connection&)>> queue_;
  bool stopping_ = false;
  std::atomic<bool> stop_{false};  // read by a job in progress
  std::unique_ptr<pqxx::connection> conn_;
  std::thread worker_;
  std::thread scheduler_;
};

}  // namespace gabe::scoring
