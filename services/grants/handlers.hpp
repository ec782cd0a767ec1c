#pragma once

#include "gabe/service.hpp"

namespace gabe::grants {

// Registers every grants route on ctx.router and starts the reminder scheduler and the
// webhook dispatcher (they live as long as the routes).
void register_routes(ServiceContext& ctx);

}  // namespace gabe::grants
