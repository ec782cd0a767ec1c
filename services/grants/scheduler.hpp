// gabe-grants' background work, every GABE_GRANTS_SCHEDULER_SECONDS on a thread of its own:
// decide the reminders that are due and write their outbox messages in the same transaction
// (grants.enqueue_reminders), refresh gabe_grants_deadlines{state,window}, and drop deadline
// tombstones older than GABE_GRANTS_TOMBSTONE_DAYS.
#pragma once

#include <functional>
#include <string>

#include "gabe/db.hpp"
#include "gabe/metrics.hpp"
#include "gabe/periodic.hpp"
#include "grants_settings.hpp"

namespace gabe::grants {

class Scheduler {
 public:
  // `enqueued` is called after a round that wrote outbox messages (to wake the dispatcher).
  Scheduler(db::Pool& pool, Metrics& metrics, GrantsSettings settings,
            std::function<void()> enqueued);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

 private:
  void round();

  db::Pool& pool_;
  GrantsSettings settings_;
  std::string offsets_;  // settings_.reminder_offsets as an integer[] literal
  std::function<void()> enqueued_;
  Gauge deadlines_;
  PeriodicWorker worker_;  // last: stopped before anything a round uses is destroyed
};

}  // namespace gabe::grants
