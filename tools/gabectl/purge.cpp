#include "purge.hpp"

#include <cstdlib>
#include <iostream>
#include <stdexcept>

#include "gabe/config.hpp"
#include "retention.hpp"

namespace gabe::ctl {

int purge(const std::optional<std::string>& older_than_days, const std::string& actor) {
  auto settings = ingest::RetentionSettings::from_env();
  if (older_than_days) {
    char* end = nullptr;
    const long days = std::strtol(older_than_days->c_str(), &end, 10);
    if (older_than_days->empty() || *end != '\0' || days < 1 || days > 36500)
      throw std::invalid_argument("--older-than-days must be a whole number from 1 to 36500");
    settings.days = days;
  }
  pqxx::connection conn(config::required("GABE_DATABASE_URL"));
  const ingest::WithConnection with = [&conn](const std::function<void(pqxx::connection&)>& work) {
    work(conn);
  };
  const auto result = ingest::purge_inbox(with, settings.days, settings.batch, actor);
  std::cout << result.to_json(settings.days) << "\n";
  return 0;
}

}  // namespace gabe::ctl
