#include "event_store.hpp"
#include "gabe/service.hpp"
#include "handlers.hpp"
#include "settings.hpp"

int main(int argc, char** argv) {
  gabe::ServiceSpec spec;
  spec.name = "ingest";
  spec.default_port = 8081;
  spec.help =
      "gabe-ingest receives CRM webhooks (Standard Webhooks signed) and NDJSON bulk imports, and "
      "keeps\n"
      "donors, gifts, consent and the raw-event inbox in PostgreSQL. See docs/ingest.md.\n";
  spec.settings = gabe::ingest::settings();
  spec.on_connect = gabe::ingest::prepare_ingest_connection;
  spec.register_routes = gabe::ingest::register_routes;
  return gabe::run_service(argc, argv, spec);
}
