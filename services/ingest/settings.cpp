#include "settings.hpp"

namespace gabe::ingest {

config::SettingsTable settings() {
  using namespace config;
  return {
      integer_setting("GABE_INGEST_WRITERS", 1, 1, 64,
                      "webhook batches applied at once, each in one commit"),
      integer_setting("GABE_INGEST_LINGER_US", 2000, 0, 100000,
                      "with several writers: microseconds a batch waits to grow"),
      integer_setting("GABE_INGEST_BATCH_MAX", 256, 1, 5000, "most webhook events in one batch"),
  };
}

}  // namespace gabe::ingest
