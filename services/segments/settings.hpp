// gabe-segments' own settings, read with the common ones (gabe::common_settings).
#pragma once

#include "gabe/config.hpp"

namespace gabe::segments {

config::SettingsTable settings();

}  // namespace gabe::segments
