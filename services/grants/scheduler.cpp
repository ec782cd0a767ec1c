#include "scheduler.hpp"

#include <map>
#include <string>

#include "gabe/log.hpp"
#include "queries.hpp"

namespace gabe::grants {

namespace {

// The offsets as the integer[] parameter of grants.enqueue_reminders.
std::string offsets_array(const std::vector<int>& offsets) {
  db::ArrayLiteral a;
  for (int days : offsets) a.add(std::int64_t{days});
  return a.take();
}

}  // namespace

Scheduler::Scheduler(db::Pool& pool, Metrics& metrics, GrantsSettings settings,
                     std::function<void()> enqueued)
    : pool_(pool),
      settings_(std::move(settings)),
      offsets_(offsets_array(settings_.reminder_offsets)),
      enqueued_(std::move(enqueued)),
      deadlines_(metrics.gauge("gabe_grants_deadlines",
                               "Deadline occurrences by state and by how soon they are due "
                               "(7d: before now + 7 days, overdue ones included; 30d; later)",
                               {"state", "window"})) {
  worker_.start(std::chrono::seconds(settings_.scheduler_seconds), "grants scheduler round failed",
                [this] {
                  round();
                  return false;
                });
}

void Scheduler::round() {
  int messages = 0;
  pool_.run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    auto row = tx.exec_params(sql::kEnqueueReminders, offsets_, settings_.overdue_days)[0];
    const int decided = row[0].as<int>();
    messages = row[1].as<int>();
    tx.commit();
    if (decided > 0) log::info("reminders decided", {{"levels", decided}, {"messages", messages}});
  });
  if (messages > 0 && enqueued_) enqueued_();

  std::map<std::pair<std::string, std::string>, double> counts;
  for (const char* state : {"open", "overdue", "done"}) {
    for (const char* window : {"7d", "30d", "later"}) counts[{state, window}] = 0;
  }
  pool_.run([&](pqxx::connection& c) {
    pqxx::read_transaction tx(c);
    for (const auto& row : tx.exec(sql::kDeadlineCounts)) {
      counts[{row[0].c_str(), row[1].c_str()}] = row[2].as<double>();
    }
  });
  for (const auto& [key, value] : counts) deadlines_.set({key.first, key.second}, value);

  pool_.run([&](pqxx::connection& c) {
    pqxx::work tx(c);
    tx.exec_params(sql::kPurgeTombstones, settings_.tombstone_days);
    tx.commit();
  });
}

}  // namespace gabe::grants
