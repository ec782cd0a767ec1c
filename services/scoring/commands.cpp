#include "commands.hpp"

#include <charconv>
#include <cstdlib>
#include <iostream>
#include <map>

#include "gabe/config.hpp"
#include "gabe/log.hpp"
#include "gabe/service.hpp"
#include "jobs.hpp"
#include "queries.hpp"
#include "runs.hpp"
#include "settings.hpp"
#include "training.hpp"

namespace gabe::scoring {

namespace {

constexpr const char* kUsage =
    "Usage: gabe-scoring train --target T [--as-of YYYY-MM-DD] [--params JSON]\n"
    "       gabe-scoring run --target T [--as-of YYYY-MM-DD] [--shard i/N]\n\n"
    "train: trains a model of target T (give_90d, lapse_180d, ...) as of the date (default today,\n"
    "  Europe/Berlin; a date after today is refused) and prints its id; an admin activates it\n"
    "  with POST /v1/models/{id}/activate.\n"
    "run: scores every eligible donor with the active model of T as of the date. With --shard i/N\n"
    "  only the donors of shard i (0 <= i < N, by a hash of the donor id); the N shards of one\n"
    "  target and date join one run, which succeeds when the last shard is in.\n"
    "Environment: GABE_DATABASE_URL, GABE_SCORING_THREADS, GABE_SCORING_BATCH_SIZE, "
    "GABE_LOG_LEVEL.\n";

int usage(const std::string& message) {
  std::cerr << "gabe-scoring: " << message << "\n" << kUsage;
  return 2;
}

std::optional<Shard> parse_shard(std::string_view text) {
  const auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  Shard s;
  auto a = std::from_chars(text.data(), text.data() + slash, s.index);
  auto b = std::from_chars(text.data() + slash + 1, text.data() + text.size(), s.count);
  if (a.ec != std::errc() || a.ptr != text.data() + slash || b.ec != std::errc() ||
      b.ptr != text.data() + text.size() || s.count < 1 || s.count > 1024 || s.index < 0 ||
      s.index >= s.count)
    return std::nullopt;
  return s;
}

}  // namespace

int run_command(int argc, char** argv) {
  const std::string command = argv[1];
  std::map<std::string, std::string> options;
  for (int i = 2; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      return 0;
    }
    static const std::map<std::string, bool> allowed_options = {
        {"--target", true}, {"--as-of", true}, {"--params", true}, {"--shard", true}};
    if (!allowed_options.count(arg) || (command == "train" && arg == "--shard") ||
        (command == "run" && arg == "--params"))
      return usage("unknown option '" + arg + "'");
    if (i + 1 >= argc) return usage(arg + " needs a value");
    options[arg] = argv[++i];
  }
  if (!options.count("--target")) return usage("--target is required");
  try {
    auto table = settings();
    table.push_back(config::text_setting("GABE_DATABASE_URL", "", "libpq URI or conninfo"));
    table.push_back(config::choice_setting("GABE_LOG_LEVEL", "info",
                                           {"debug", "info", "warn", "error"}, "log level"));
    const auto s = config::Settings::from_env(std::move(table));
    log::init("scoring", s.text("GABE_LOG_LEVEL"));
    Target target;
    try {
      target = parse_target_name(options["--target"], "--target");
    } catch (const Problem& p) {
      return usage("--target " + (p.errors().empty() ? p.detail() : p.errors()[0].message));
    }
    Day as_of = today_berlin();
    if (options.count("--as-of")) {
      auto d = parse_day(options["--as-of"]);
      if (!d) return usage("--as-of must be a date YYYY-MM-DD");
      // As POST /v1/models and /v1/runs: a date to come has no history yet to learn or score.
      if (*d > as_of)
        return usage("--as-of must not be in the future (today in Europe/Berlin is " +
                     format_day(as_of) + ")");
      as_of = *d;
    }
    const char* user = std::getenv("USER");
    const std::string actor = std::string("gabe-scoring ") + command +
                              (user && *user ? " (" + std::string(user) + ")" : "");
    auto conn = open_work_connection(s.text("GABE_DATABASE_URL"));
    if (command == "train") {
      TrainParams params;
      if (options.count("--params")) {
        try {
          auto doc = parse_json(options["--params"]);
          params = TrainParams::from_json(doc.get());
        } catch (const Problem& p) {
          return usage("--params: " + (p.errors().empty()
                                           ? p.detail()
                                           : p.errors()[0].field + " " + p.errors()[0].message));
        }
      }
      std::int64_t id = 0;
      {
        pqxx::work tx(*conn);
        id = create_model(tx, target, as_of, params, actor);
        tx.commit();
      }
      const bool ok = train_stored_model(*conn, id);
      pqxx::nontransaction tx(*conn);
      auto row = tx.exec_params(
          "SELECT status, coalesce(error, '') FROM scoring.models WHERE id = $1", id);
      std::cout << "model " << id << " " << row[0][0].c_str();
      if (!ok) std::cout << ": " << row[0][1].c_str();
      std::cout << "\n";
      return ok ? 0 : 1;
    }
    if (command == "run") {
      Shard shard;
      if (options.count("--shard")) {
        auto parsed = parse_shard(options["--shard"]);
        if (!parsed) return usage("--shard must be i/N with 0 <= i < N <= 1024");
        shard = *parsed;
      }
      std::int64_t model_id = 0;
      {
        pqxx::nontransaction tx(*conn);
        auto rows = tx.exec_params(sql::kActiveModel, target.name());
        if (rows.empty()) {
          std::cerr << "gabe-scoring: target " << target.name() << " has no active model\n";
          return 1;
        }
        model_id = rows[0][0].as<std::int64_t>();
      }
      std::int64_t run_id = 0;
      if (shard.count > 1) {
        run_id = find_or_create_sharded_run(*conn, model_id, as_of, shard.count, actor);
      } else {
        pqxx::work tx(*conn);
        try {
          run_id = create_run(tx, model_id, as_of, 1, RunTrigger::command, actor);
        } catch (const Problem& p) {
          std::cerr << "gabe-scoring: " << p.detail() << "\n";
          return 1;
        }
        tx.commit();
      }
      RunOptions options_run{static_cast<int>(s.integer("GABE_SCORING_THREADS")),
                             static_cast<std::size_t>(s.integer("GABE_SCORING_BATCH_SIZE"))};
      const auto outcome = execute_run(*conn, run_id, shard, options_run);
      std::cout << "run " << run_id << " shard " << shard.index << "/" << shard.count << ": "
                << outcome.scored << " donors scored"
                << (outcome.run_completed ? ", run succeeded" : "") << "\n";
      return 0;
    }
    return usage("unknown command '" + command + "'");
  } catch (const ConfigError& e) {
    std::cerr << "gabe-scoring: configuration error: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "gabe-scoring: " << e.what() << "\n";
    return 1;
  }
}

}  // namespace gabe::scoring
