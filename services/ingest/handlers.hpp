#pragma once

#include "gabe/service.hpp"

namespace gabe::ingest {

// Registers every ingest route on ctx.router.
void register_routes(ServiceContext& ctx);

}  // namespace gabe::ingest
