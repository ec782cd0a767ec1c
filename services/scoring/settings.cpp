#include "settings.hpp"

namespace gabe::scoring {

config::SettingsTable settings() {
  using namespace config;
  return {
      text_setting("GABE_SCORING_SCHEDULE", "0 3 * * *",
                   "when to score every target that has an active model: a five-field cron "
                   "expression in Europe/Berlin, or off"),
      integer_setting("GABE_SCORING_THREADS", 2, 1, 64,
                      "threads that compute scores and reasons in a run"),
      integer_setting("GABE_SCORING_BATCH_SIZE", 10000, 100, 1000000,
                      "donors per batch of predictions and reasons"),
  };
}

}  // namespace gabe::scoring
