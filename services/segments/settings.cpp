#include "settings.hpp"

namespace gabe::segments {

config::SettingsTable settings() {
  using namespace config;
  return {
      integer_setting("GABE_SEGMENTS_JOB_SECONDS", 300, 10, 3600,
                      "seconds a refresh or matching run may take (statement and lease limit)"),
      integer_setting("GABE_SEGMENTS_FACTS_MAX_AGE", 0, 0, 604800,
                      "seconds after which the donor rollups are rebuilt in full (0: only when "
                      "needed; otherwise they are kept fresh by changed donor)"),
      integer_setting("GABE_SEGMENTS_JOB_WORK_MEM_MB", 256, 4, 4096,
                      "PostgreSQL work_mem (MB) of the connections that refresh and match"),
      integer_setting("GABE_SEGMENTS_REFRESH_INTERVAL", 3600, 0, 604800,
                      "seconds between refreshes of the built-in segments; 0 turns them off"),
  };
}

}  // namespace gabe::segments
