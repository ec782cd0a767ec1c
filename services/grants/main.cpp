#include "gabe/service.hpp"
#include "grants_settings.hpp"
#include "handlers.hpp"

int main(int argc, char** argv) {
  gabe::ServiceSpec spec;
  spec.name = "grants";
  spec.default_port = 8084;
  spec.help =
      "gabe-grants tracks funders, grants and their deadlines, publishes the deadlines as an\n"
      "iCalendar feed and sends reminder webhooks (Standard Webhooks signed). See "
      "docs/grants.md.\n";
  spec.settings = gabe::grants::settings();
  spec.register_routes = gabe::grants::register_routes;
  return gabe::run_service(argc, argv, spec);
}
