#pragma once

#include "gabe/service.hpp"

namespace gabe::scoring {

// Registers every scoring route on ctx.router and starts the worker (trainings, runs, the
// schedule). Throws ConfigError for a bad GABE_SCORING_SCHEDULE.
void register_routes(ServiceContext& ctx);

// Per pool connection: prepares the statements of the hot read paths (GET
// /v1/donors/{id}/scores), so that each request is one indexed lookup without planning.
void prepare_connection(pqxx::connection& conn);

}  // namespace gabe::scoring
