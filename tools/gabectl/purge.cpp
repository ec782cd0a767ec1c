// gabectl purge: the inbox retention purge of gabe-ingest, for a Kubernetes CronJob.
#include <iostream>

#include "commands.hpp"
#include "progress.hpp"
#include "retention.hpp"
#include "settings.hpp"

namespace gabe::gabectl {

int purge(const Args& args) {
  auto settings =
      ingest::RetentionSettings::from(config::Settings::from_env(ingest::retention_settings()));
  if (auto days = args.get("older-than-days")) {
    char* end = nullptr;
    const long n = std::strtol(days->c_str(), &end, 10);
    if (days->empty() || *end != '\0' || n < 1 || n > 36500) {
      throw UsageError("--older-than-days must be a whole number from 1 to 36500");
    }
    settings.days = n;
  }
  auto conn = connect_database();
  const ingest::WithConnection with = [&conn](const std::function<void(pqxx::connection&)>& work) {
    work(conn);
  };
  Progress progress(std::cerr, Progress::stderr_is_terminal(), "events");
  std::int64_t purged = 0;
  ingest::PurgeHooks hooks;
  hooks.batch = [&](const ingest::PurgeResult& one) {
    purged += one.total();
    progress.update(static_cast<std::uint64_t>(purged));
  };
  const auto result =
      ingest::purge_inbox(with, settings.days, settings.batch, operator_actor(), hooks);
  progress.finish();
  std::cout << result.to_json(settings.days) << "\n";
  return 0;
}

}  // namespace gabe::gabectl
