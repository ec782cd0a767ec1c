// gabe-scoring's own settings, read with the common ones (gabe::common_settings).
#pragma once

#include "gabe/config.hpp"

namespace gabe::scoring {

config::SettingsTable settings();

}  // namespace gabe::scoring
