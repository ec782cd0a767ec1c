#include <string_view>

#include "commands.hpp"
#include "gabe/service.hpp"
#include "handlers.hpp"
#include "settings.hpp"

int main(int argc, char** argv) {
  if (argc > 1 && (std::string_view(argv[1]) == "train" || std::string_view(argv[1]) == "run"))
    return gabe::scoring::run_command(argc, argv);
  gabe::ServiceSpec spec;
  spec.name = "scoring";
  spec.default_port = 8082;
  // Online scores are short indexed reads: on few cores, fewer threads and connections keep
  // their tail latency low (docs/operations.md, "Sizing workers and connections").
  spec.default_workers = 8;
  spec.default_pool_size = 8;
  spec.help =
      "gabe-scoring trains propensity models (give, lapse) with XGBoost, keeps their model cards,\n"
      "and scores every eligible donor with exact reasons, on GABE_SCORING_SCHEDULE and on "
      "demand.\n"
      "One-shot commands: gabe-scoring train|run --target T [--as-of D] [--shard i/N] (see\n"
      "gabe-scoring run --help). See docs/scoring.md.\n";
  spec.settings = gabe::scoring::settings();
  spec.register_routes = gabe::scoring::register_routes;
  spec.on_connect = gabe::scoring::prepare_connection;
  return gabe::run_service(argc, argv, spec);
}
