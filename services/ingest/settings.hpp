// gabe-ingest's own settings, read with the common ones (gabe::common_settings).
#pragma once

#include "gabe/config.hpp"

namespace gabe::ingest {

config::SettingsTable settings();
// The retention purge's settings (part of settings(); gabectl purge reads them alone).
config::SettingsTable retention_settings();

}  // namespace gabe::ingest
