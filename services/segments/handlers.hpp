#pragma once

#include "gabe/service.hpp"

namespace gabe::segments {

// Registers every segments route on ctx.router.
void register_routes(ServiceContext& ctx);

}  // namespace gabe::segments
