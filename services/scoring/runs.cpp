#include "runs.hpp"

#include <atomic>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include <pqxx/stream_to>

#include "evaluation.hpp"
#include "features.hpp"
#include "gabe/log.hpp"
#include "gabe/service.hpp"
#include "queries.hpp"
#include "xgb.hpp"

namespace gabe::scoring {

namespace {

constexpr std::size_t kReasons = 3;
constexpr int kHistogramBins = 20;

std::vector<std::string> parse_name_array(const std::string& json) {
  auto doc = parse_json(json);
  std::vector<std::string> out;
  if (!doc->IsArray()) return out;
  for (const auto& v : doc->GetArray())
    if (v.IsString()) out.emplace_back(v.GetString(), v.GetStringLength());
  return out;
}

// Seconds since the previous lap (or since it was made), for the logs of a run's steps.
class Laps {
 public:
  double operator()() {
    const auto now = std::chrono::steady_clock::now();
    const double seconds = std::chrono::duration<double>(now - mark_).count();
    mark_ = now;
    return seconds;
  }

 private:
  std::chrono::steady_clock::time_point mark_ = std::chrono::steady_clock::now();
};

void append_float(std::string& out, float v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  // The shortest text that reads back as the same float.
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

void append_double(std::string& out, double v) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, r.ptr);
}

std::string double_text(double v) {
  std::string out;
  append_double(out, v);
  return out;
}

void mark_failed(pqxx::connection& conn, std::int64_t run_id, const std::string& message) {
  try {
    pqxx::work tx(conn);
    tx.exec_params(sql::kFailRun, run_id, message.substr(0, 1000));
    tx.commit();
  } catch (const std::exception& e) {
    log::error("could not mark run failed", {{"run_id", run_id}, {"kind", typeid(e).name()}});
  }
}

// The run's completion: deciles, histogram, drift against the previous run of the target,
// and the target's current scores (when the model is still the active one).
void finish_run(pqxx::transaction_base& tx, std::int64_t run_id, const std::string& target) {
  Laps lap;
  const auto bounds = tx.exec_params(sql::kDecileBounds, run_id)[0][0];
  const auto counts =
      parse_numbers(tx.exec_params(sql::kHistogramCounts, run_id, kHistogramBins)[0][0].c_str());
  std::optional<double> drift;
  std::optional<std::int64_t> previous;
  auto prev = tx.exec_params(sql::kPreviousRunHistogram, target, run_id);
  if (!prev.empty()) {
    previous = prev[0][0].as<std::int64_t>();
    if (!prev[0][1].is_null()) {
      const auto before = parse_numbers(prev[0][1].c_str());
      if (before.size() == counts.size()) drift = psi(before, counts);
    }
  }
  const double statistics_seconds = lap();
  JsonWriter h;
  h.begin_array();
  for (double c : counts) h.value(static_cast<std::int64_t>(c));
  h.end_array();
  tx.exec_params(
      sql::kCompleteRun, run_id,
      bounds.is_null() ? std::optional<std::string>() : std::optional<std::string>(bounds.c_str()),
      h.take(), drift, previous);
  tx.exec_params(sql::kReplaceCurrentScoresDelete, run_id);
  const double delete_seconds = lap();
  tx.exec_params(sql::kReplaceCurrentScoresInsert, run_id);
  log::info("run finishing steps", {{"run_id", run_id},
                                    {"statistics_seconds", statistics_seconds},
                                    {"current_delete_seconds", delete_seconds},
                                    {"current_insert_seconds", lap()}});
}

// Fails the run or model `id` (the statement `fail`) unless a live worker holds its advisory
// lock of `lock_class`; returns how many rows it failed.
int fail_if_abandoned(pqxx::transaction_base& tx, int lock_class, std::int64_t id, const char* fail,
                      const char* message) {
  const auto key = static_cast<int>(id);
  if (!tx.exec_params("SELECT pg_try_advisory_lock($1, $2)", lock_class, key)[0][0].as<bool>())
    return 0;
  const auto failed = static_cast<int>(tx.exec_params(fail, id, message).affected_rows());
  tx.exec_params("SELECT pg_advisory_unlock($1, $2)", lock_class, key);
  return failed;
}

}  // namespace

AdvisoryLock::AdvisoryLock(pqxx::connection& conn, int lock_class, std::int64_t id, bool shared)
    : conn_(conn), lock_class_(lock_class), key_(static_cast<int>(id)), shared_(shared) {
  pqxx::nontransaction(conn_).exec_params(
      shared_ ? "SELECT pg_advisory_lock_shared($1, $2)" : "SELECT pg_advisory_lock($1, $2)",
      lock_class_, key_);
}

AdvisoryLock::~AdvisoryLock() {
  try {
    pqxx::nontransaction(conn_).exec_params(
        shared_ ? "SELECT pg_advisory_unlock_shared($1, $2)" : "SELECT pg_advisory_unlock($1, $2)",
        lock_class_, key_);
  } catch (...) {  // a broken connection releases the lock by itself
  }
}

std::vector<double> parse_numbers(const std::string& csv) {
  std::vector<double> out;
  std::size_t at = 0;
  while (at < csv.size()) {
    auto comma = csv.find(',', at);
    if (comma == std::string::npos) comma = csv.size();
    out.push_back(std::strtod(csv.substr(at, comma - at).c_str(), nullptr));
    at = comma + 1;
  }
  return out;
}

const char* trigger_name(RunTrigger trigger) {
  switch (trigger) {
    case RunTrigger::api:
      return "api";
    case RunTrigger::schedule:
      return "schedule";
    case RunTrigger::command:
      return "command";
  }
  return "api";
}

LoadedModel load_model(pqxx::transaction_base& tx, std::int64_t model_id) {
  auto rows = tx.exec_params(sql::kModelForScoring, model_id);
  if (rows.empty())
    throw std::runtime_error("model " + std::to_string(model_id) + " does not exist");
  const auto& r = rows[0];
  if (r[2].is_null())
    throw std::runtime_error("model " + std::to_string(model_id) + " has not been trained");
  const pqxx::binarystring bytes(r[2]);
  auto booster = xgb::Booster::load(
      std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
  LoadedModel m{model_id, parse_target_name(r[0].c_str()), parse_name_array(r[3].c_str()),
                r[1].c_str(), trees::Forest::from_xgboost_json(booster.save("json"))};
  const auto& current = model_features();
  bool same = m.features.size() == current.size();
  for (std::size_t i = 0; same && i < current.size(); ++i) same = m.features[i] == current[i]->name;
  if (!same || m.forest.feature_count() != current.size())
    throw std::runtime_error(
        "model " + std::to_string(model_id) +
        " was trained on other features than this version computes; train a new one");
  return m;
}

std::optional<std::int64_t> insert_run(pqxx::transaction_base& tx, std::int64_t model_id,
                                       const std::string& target, Day as_of, int shards,
                                       RunTrigger trigger, const std::string& actor) {
  auto rows = tx.exec_params(sql::kInsertRun, model_id, target, format_day(as_of),
                             trigger_name(trigger), shards, actor);
  if (rows.empty()) return std::nullopt;
  const auto run_id = rows[0][0].as<std::int64_t>();
  JsonWriter d;
  d.begin_object().field("model_id", model_id).field("as_of", format_day(as_of)).end_object();
  record_audit(tx, "scoring", actor, "run.start", "run:" + std::to_string(run_id), d.take());
  return run_id;
}

std::int64_t create_run(pqxx::transaction_base& tx, std::int64_t model_id, Day as_of, int shards,
                        RunTrigger trigger, const std::string& actor) {
  auto model = tx.exec_params(sql::kModelStatus, model_id);
  if (model.empty()) throw not_found("No such model.");
  if (std::string(model[0][1].c_str()) != "active")
    throw conflict("Only the active model of a target scores; activate this model first.");
  const std::string target = model[0][0].c_str();
  const auto run_id = insert_run(tx, model_id, target, as_of, shards, trigger, actor);
  if (!run_id)
    throw conflict("A run of target " + target +
                   " is in progress; runs of one target never overlap.");
  return *run_id;
}

std::int64_t find_or_create_sharded_run(pqxx::connection& conn, std::int64_t model_id, Day as_of,
                                        int shards, const std::string& actor) {
  pqxx::work tx(conn);
  auto model = tx.exec_params(sql::kModelStatus, model_id);
  if (model.empty()) throw std::runtime_error("no such model");
  const std::string target = model[0][0].c_str();
  // The shard that creates the run audits it; the others join it.
  insert_run(tx, model_id, target, as_of, shards, RunTrigger::command, actor);
  auto open = tx.exec_params(sql::kOpenRun, target);
  if (open.empty()) throw std::runtime_error("no open run of " + target);
  const auto& r = open[0];
  if (r[1].as<std::int64_t>() != model_id || r[2].as<int>() != shards ||
      std::string(r[3].c_str()) != format_day(as_of))
    throw std::runtime_error("another run of " + target + " is in progress (run " +
                             std::string(r[0].c_str()) + ")");
  tx.commit();
  return r[0].as<std::int64_t>();
}

ShardOutcome execute_run(pqxx::connection& conn, std::int64_t run_id, const Shard& shard,
                         const RunOptions& options) {
  const AdvisoryLock lock(conn, kRunLockClass, run_id, true);
  const auto check_stop = [&options] {
    if (options.stop != nullptr && options.stop->load(std::memory_order_relaxed))
      throw std::runtime_error("interrupted: the service stopped during the run");
  };
  try {
    std::int64_t model_id = 0;
    Day as_of = 0;
    std::string target;
    {
      pqxx::work tx(conn);
      auto rows = tx.exec_params(sql::kClaimRun, run_id, shard.index);
      if (rows.empty()) throw std::runtime_error("run " + std::to_string(run_id) + " is not open");
      const auto& r = rows[0];
      model_id = r[0].as<std::int64_t>();
      as_of = static_cast<Day>(r[1].as<int>());
      if (r[2].as<int>() != shard.count)
        throw std::runtime_error("run " + std::to_string(run_id) + " has " + r[2].c_str() +
                                 " shards");
      target = r[4].c_str();
      if (r[3].as<bool>()) {
        tx.commit();
        return {};
      }
      tx.commit();
    }
    Laps lap;
    LoadedModel model = [&] {
      pqxx::nontransaction tx(conn);
      return load_model(tx, model_id);
    }();
    const std::size_t columns = feature_count();

    std::vector<float> x;
    std::vector<std::int64_t> donors;
    std::int64_t erased = 0, objection = 0;
    {
      pqxx::transaction<pqxx::isolation_level::repeatable_read, pqxx::readwrite_policy::read_only>
          tx(conn);
      std::vector<float> row(columns);
      for_each_donor(tx, as_of, shard, [&](const DonorHistory& h, const DonorState& state) {
        check_stop();
        if (!eligible(h, model.target, as_of)) return;
        if (state.erased) {
          ++erased;
          return;
        }
        if (state.profiling_objection) {
          ++objection;
          return;
        }
        compute_features(h, as_of, row.data());
        x.insert(x.end(), row.begin(), row.end());
        donors.push_back(h.donor_id);
      });
      tx.commit();
    }
    const std::size_t n = donors.size();
    const double features_seconds = lap();
    {
      pqxx::work tx(conn);
      tx.exec_params(sql::kRunProgress, run_id, "scoring", static_cast<std::int64_t>(n), 0);
      tx.commit();
    }

    std::vector<trees::Forest::Reason> reasons(n * kReasons);
    std::vector<double> margins(n);
    const std::size_t batch = std::max<std::size_t>(1, options.batch);
    const std::size_t threads = static_cast<std::size_t>(std::max(1, options.threads));
    auto last_report = std::chrono::steady_clock::now();
    std::size_t reported = 0;
    for (std::size_t begin = 0; begin < n; begin += batch * threads) {
      check_stop();
      std::vector<std::thread> pool;
      for (std::size_t t = 0; t < threads; ++t) {
        const std::size_t from = begin + t * batch;
        if (from >= n) break;
        const std::size_t count = std::min(batch, n - from);
        pool.emplace_back([&, from, count] {
          model.forest.top_reasons(x.data() + from * columns, count, kReasons,
                                   reasons.data() + from * kReasons, margins.data() + from);
        });
      }
      for (auto& th : pool) th.join();
      const auto done = std::min(n, begin + batch * threads);
      if (std::chrono::steady_clock::now() - last_report > std::chrono::seconds(1) || done == n) {
        pqxx::work tx(conn);
        tx.exec_params(sql::kRunProgress, run_id, done == n ? "writing" : "scoring", 0,
                       static_cast<std::int64_t>(done - reported));
        tx.commit();
        reported = done;
        last_report = std::chrono::steady_clock::now();
      }
    }

    const double scoring_seconds = lap();
    pqxx::work tx(conn);
    {
      pqxx::stream_to copy(
          tx, "scoring.scores",
          std::vector<std::string>{"run_id", "donor_id", "score", "margin", "features",
                                   "reason_features", "reason_contribs"});
      const std::string run_text = std::to_string(run_id);
      std::string features, reason_features, reason_contribs;
      for (std::size_t i = 0; i < n; ++i) {
        features = "{";
        for (std::size_t c = 0; c < columns; ++c) {
          if (c) features += ',';
          append_float(features, x[i * columns + c]);
        }
        features += '}';
        reason_features = "{";
        reason_contribs = "{";
        for (std::size_t k = 0; k < kReasons; ++k) {
          if (k) {
            reason_features += ',';
            reason_contribs += ',';
          }
          reason_features += std::to_string(reasons[i * kReasons + k].feature);
          append_double(reason_contribs, reasons[i * kReasons + k].contribution);
        }
        reason_features += '}';
        reason_contribs += '}';
        // Numbers as text made here: pqxx's own double conversion goes through a stream.
        copy << std::make_tuple(
            run_text, std::to_string(donors[i]), double_text(1.0 / (1.0 + std::exp(-margins[i]))),
            double_text(margins[i]), features, reason_features, reason_contribs);
      }
      copy.complete();
    }
    const auto dropped = static_cast<std::int64_t>(
        tx.exec_params(sql::kDropScoresErasedMeanwhile, run_id).affected_rows());
    auto done = tx.exec_params(sql::kShardDone, run_id, shard.index,
                               static_cast<std::int64_t>(n) - dropped, erased + dropped, objection);
    if (done.empty()) throw std::runtime_error("run " + std::to_string(run_id) + " was stopped");
    const bool complete = done[0][0].as<bool>();
    const double writing_seconds = lap();
    if (complete) finish_run(tx, run_id, target);
    tx.commit();
    log::info("run shard done", {{"run_id", run_id},
                                 {"shard", shard.index},
                                 {"donors", static_cast<std::int64_t>(n)},
                                 {"features_seconds", features_seconds},
                                 {"scoring_seconds", scoring_seconds},
                                 {"writing_seconds", writing_seconds},
                                 {"finishing_seconds", lap()}});
    return {static_cast<std::int64_t>(n), complete};
  } catch (const std::exception& e) {
    mark_failed(conn, run_id, e.what());
    throw;
  }
}

int fail_interrupted_work(pqxx::connection& conn, double started_before) {
  int failed = 0;
  pqxx::nontransaction tx(conn);
  for (const auto& r : tx.exec_params(sql::kOpenRunsForRecovery, started_before))
    if (r[1].as<bool>())  // a candidate: see kOpenRunsForRecovery
      failed += fail_if_abandoned(tx, kRunLockClass, r[0].as<std::int64_t>(), sql::kFailRun,
                                  "interrupted: the worker stopped before the run finished");
  for (const auto& r : tx.exec_params(sql::kTrainingModels, started_before))
    failed += fail_if_abandoned(tx, kModelLockClass, r[0].as<std::int64_t>(), sql::kFailModel,
                                "interrupted: the service stopped during training");
  return failed;
}

}  // namespace gabe::scoring
