#include "gabe/service.hpp"
#include "handlers.hpp"
#include "settings.hpp"

int main(int argc, char** argv) {
  gabe::ServiceSpec spec;
  spec.name = "segments";
  spec.default_port = 8083;
  spec.help =
      "gabe-segments keeps rule-based donor segments, exports consented mailing lists, matches\n"
      "donors to campaigns and measures campaign results against a holdout. See "
      "docs/segments.md.\n";
  spec.settings = gabe::segments::settings();
  spec.register_routes = gabe::segments::register_routes;
  return gabe::run_service(argc, argv, spec);
}
