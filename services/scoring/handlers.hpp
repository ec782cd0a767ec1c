#pragma once

#include "gabe/service.hpp"

namespace gabe::scoring {

// Registers every scoring route on ctx.router and starts the worker (trainings, runs, the
// schedule). Throws ConfigError for a bad GABE_SCORING_SCHEDULE.
void register_routes(ServiceContext& ctx);

}  // namespace gabe::scoring
