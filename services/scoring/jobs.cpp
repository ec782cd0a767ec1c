#include "jobs.hpp"

#include <chrono>

#include "gabe/log.hpp"
#include "gabe/service.hpp"
#include "queries.hpp"
#include "training.hpp"

namespace gabe::scoring {

std::unique_ptr<pqxx::connection> open_work_connection(const std::string& url) {
  auto conn = std::make_unique<pqxx::connection>(url);
  pqxx::nontransaction(*conn).exec("SET statement_timeout = 0; SET lock_timeout = '60s'");
  return conn;
}

std::int64_t create_model(pqxx::transaction_base& tx, const Target& target, Day as_of,
                          const TrainParams& params, const std::string& actor) {
  const auto id = tx.exec_params(sql::kInsertModel, target.name(), target.to_json(),
                                 format_day(as_of), params.to_json(), actor)[0][0]
                      .as<std::int64_t>();
  JsonWriter d;
  d.begin_object().field("target", target.name()).field("as_of", format_day(as_of)).end_object();
  record_audit(tx, "scoring", actor, "model.train", "model:" + std::to_string(id), d.take());
  return id;
}

bool train_stored_model(pqxx::connection& conn, std::int64_t model_id,
                        const std::atomic<bool>* stop) {
  const AdvisoryLock lock(conn, kModelLockClass, model_id, false);
  bool ok = false;
  try {
    pqxx::transaction<pqxx::isolation_level::repeatable_read> tx(conn);
    auto rows = tx.exec_params(sql::kModelForTraining, model_id);
    if (rows.empty()) throw std::runtime_error("model is not waiting for training");
    const auto target = parse_target_name(rows[0][0].c_str());
    const auto as_of = parse_day(rows[0][1].c_str());
    auto params_doc = parse_json(rows[0][2].c_str());
    const auto params = TrainParams::from_json(params_doc.get());
    const auto started = std::chrono::steady_clock::now();
    auto trained = train_model(tx, target, *as_of, params, {}, stop);
    tx.exec_params(sql::kModelTrained, model_id, trained.card_json,
                   pqxx::binarystring(trained.model_bytes.data(), trained.model_bytes.size()),
                   trained.sha256_hex, trained.fairness_passed);
    tx.commit();
    ok = true;
    log::info(
        "model trained",
        {{"model_id", model_id},
         {"seconds",
          std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()}});
  } catch (const std::exception& e) {
    log::warn("training failed", {{"model_id", model_id}, {"kind", typeid(e).name()}});
    try {
      pqxx::work tx(conn);
      tx.exec_params(sql::kFailModel, model_id, std::string(e.what()).substr(0, 1000));
      tx.commit();
    } catch (...) {
      log::error("could not mark model failed", {{"model_id", model_id}});
    }
  }
  return ok;
}

void RunMetrics::refresh(pqxx::connection& conn) const {
  pqxx::nontransaction tx(conn);
  for (const auto& r : tx.exec(sql::kLatestRuns)) {
    const std::string target = r[0].c_str();
    last_success.set({target}, r[1].as<double>());
    duration.set({target}, r[2].as<double>());
    drift.set({target}, r[3].as<double>());
    scored.set({target}, r[4].as<double>());
  }
}

Worker::Worker(std::string url, RunOptions options, std::optional<Cron> schedule,
               RunMetrics metrics)
    : url_(std::move(url)),
      options_(options),
      schedule_(std::move(schedule)),
      metrics_(std::move(metrics)),
      started_at_(std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
                      .count()) {
  worker_ = std::thread([this] { work_loop(); });
  scheduler_ = std::thread([this] { schedule_loop(); });
}

Worker::~Worker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    stop_ = true;
  }
  wake_.notify_all();
  worker_.join();
  scheduler_.join();
}

void Worker::train(std::int64_t model_id) {
  post([this, model_id](pqxx::connection& conn) { train_stored_model(conn, model_id, &stop_); });
}

void Worker::run(std::int64_t run_id) {
  post([this, run_id](pqxx::connection& conn) {
    try {
      RunOptions options = options_;
      options.stop = &stop_;
      execute_run(conn, run_id, Shard{}, options);
      log::info("run finished", {{"run_id", run_id}});
    } catch (const std::exception& e) {
      log::warn("run failed", {{"run_id", run_id}, {"kind", typeid(e).name()}});
    }
    metrics_.refresh(conn);
  });
}

void Worker::post(std::function<void(pqxx::connection&)> job) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(job));
  }
  wake_.notify_all();
}

pqxx::connection& Worker::connection() {
  if (!conn_ || !conn_->is_open()) conn_ = open_work_connection(url_);
  return *conn_;
}

void Worker::work_loop() {
  // Whatever a previous process left half done is failed first (it can be run again).
  for (int attempt = 0; attempt < 30; ++attempt) {
    try {
      const int failed = fail_interrupted_work(connection(), started_at_);
      if (failed > 0) log::warn("interrupted work marked failed", {{"count", failed}});
      metrics_.refresh(connection());
      break;
    } catch (const std::exception& e) {
      conn_.reset();
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, std::chrono::seconds(2), [&] { return stopping_; })) return;
    }
  }
  for (;;) {
    std::function<void(pqxx::connection&)> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      // Stopping, work still queued is run too: it sees stop_ and marks its model or run
      // failed at once, rather than leaving it "training" until the next start.
      if (queue_.empty()) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      job(connection());
    } catch (const std::exception& e) {
      log::error("background job failed", {{"kind", typeid(e).name()}});
      conn_.reset();
    }
  }
}

void Worker::schedule_runs(pqxx::connection& conn) {
  const Day today = today_berlin();
  std::vector<std::pair<std::int64_t, std::string>> active;
  {
    pqxx::nontransaction tx(conn);
    for (const auto& r : tx.exec(sql::kActiveTargets))
      active.emplace_back(r[0].as<std::int64_t>(), r[1].c_str());
  }
  for (const auto& [model_id, target] : active) {
    pqxx::work tx(conn);
    if (!tx.exec_params(sql::kRunExistsForDate, target, format_day(today)).empty()) continue;
    const auto run_id =
        insert_run(tx, model_id, target, today, 1, RunTrigger::schedule, "schedule");
    tx.commit();
    if (!run_id) continue;  // another replica's run is open
    log::info("scheduled run", {{"run_id", *run_id}});
    run(*run_id);
  }
}

void Worker::schedule_loop() {
  std::unique_ptr<pqxx::connection> conn;
  auto next_fire_at = [&] {
    return schedule_ ? std::optional(next_fire(*schedule_, std::chrono::floor<std::chrono::seconds>(
                                                               std::chrono::system_clock::now())))
                     : std::nullopt;
  };
  auto fire = next_fire_at();
  for (;;) {
    {
      // Wake for the metrics every 15 seconds, and at the next fire time.
      auto wait = std::chrono::steady_clock::duration(std::chrono::seconds(15));
      if (fire) {
        const auto until = *fire - std::chrono::system_clock::now();
        if (until < wait) wait = std::max(until, std::chrono::system_clock::duration::zero());
      }
      std::unique_lock lock(mutex_);
      if (wake_.wait_for(lock, wait, [&] { return stopping_; })) return;
    }
    try {
      if (!conn || !conn->is_open()) conn = open_work_connection(url_);
      metrics_.refresh(*conn);
      if (fire && std::chrono::system_clock::now() >= *fire) {
        fire = next_fire_at();
        schedule_runs(*conn);
      }
    } catch (const std::exception& e) {
      log::warn("schedule step failed", {{"kind", typeid(e).name()}});
      conn.reset();
    }
  }
}

}  // namespace gabe::scoring
