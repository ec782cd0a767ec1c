// Scoring runs: every eligible donor of a shard scored by the run's model as of its date, with
// exact top-3 reasons (TreeSHAP), written with COPY together with the shard's completion mark
// in one transaction; the shard that completes the run computes deciles, histogram and drift
// and replaces the target's current scores.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "dates.hpp"
#include "gabe/targets.hpp"
#include "gabe/trees.hpp"
#include "history.hpp"

namespace gabe::scoring {

// Advisory lock classes (first key of pg_advisory_lock(int, int)): a worker holds the lock of
// what it works on for its session, so a crashed worker's leftovers are recognisable.
inline constexpr int kRunLockClass = 80821;
inline constexpr int kModelLockClass = 80822;

// The advisory lock (lock_class, id) of the session, held while this lives; `shared` for the
// shared kind (the shards of one run hold it together).
class AdvisoryLock {
 public:
  AdvisoryLock(pqxx::connection& conn, int lock_class, std::int64_t id, bool shared);
  ~AdvisoryLock();  // never throws: a broken connection has released the lock by itself
  AdvisoryLock(const AdvisoryLock&) = delete;
  AdvisoryLock& operator=(const AdvisoryLock&) = delete;

 private:
  pqxx::connection& conn_;
  int lock_class_;
  int key_;
  bool shared_;
};

struct LoadedModel {
  std::int64_t id = 0;
  Target target;
  std::vector<std::string> features;
  std::string status;
  trees::Forest forest;
};

// Reads a stored model and builds its forest; throws std::runtime_error when its features are
// not this build's features.
LoadedModel load_model(pqxx::transaction_base& tx, std::int64_t model_id);

// A comma-separated list of numbers as the queries give them (array_to_string, string_agg);
// "NaN" reads as NaN.
std::vector<double> parse_numbers(const std::string& csv);

enum class RunTrigger { api, schedule, command };
const char* trigger_name(RunTrigger trigger);

// Inserts a queued run of `model_id` (a model of `target`) and its audit entry run.start naming
// `actor` (who or what started it: a user, the schedule, the one-shot command and its user), in
// the caller's transaction; none when a run of the target is open. Every run starts here.
std::optional<std::int64_t> insert_run(pqxx::transaction_base& tx, std::int64_t model_id,
                                       const std::string& target, Day as_of, int shards,
                                       RunTrigger trigger, const std::string& actor);
// Creates a queued run of `model_id` (which must be active) and its audit entry run.start.
// Throws a 409 Problem when a run of the target is already open, 404/409 when the model is
// missing or not active.
std::int64_t create_run(pqxx::transaction_base& tx, std::int64_t model_id, Day as_of, int shards,
                        RunTrigger trigger, const std::string& actor);
// For `gabe-scoring run --shard i/N`: the open run of the target with this as-of date and
// shard count (created if there is none, so that N shards started at once join one run).
std::int64_t find_or_create_sharded_run(pqxx::connection& conn, std::int64_t model_id, Day as_of,
                                        int shards, const std::string& actor);

struct RunOptions {
  int threads = 2;
  std::size_t batch = 10000;
  // Set when the process stops: the run ends early and is marked failed (it can be rerun).
  const std::atomic<bool>* stop = nullptr;
};

struct ShardOutcome {
  std::int64_t scored = 0;
  bool run_completed = false;
};

// Scores one shard of a run on `conn` (a connection of its own, without statement timeout).
// On failure the run is marked failed with the message, and the exception is rethrown.
ShardOutcome execute_run(pqxx::connection& conn, std::int64_t run_id, const Shard& shard,
                         const RunOptions& options);

// Runs (queued or running) and trainings left behind by a worker that is gone (nobody holds
// their advisory lock) are marked failed. Returns how many.
// Only work created before `started_before` (Unix seconds: the process's start) counts: a model
// or run that a request created after this process started is waiting in its queue, not
// interrupted (the worker's recovery may run after the first requests under load).
int fail_interrupted_work(pqxx::connection& conn, double started_before);

}  // namespace gabe::scoring
