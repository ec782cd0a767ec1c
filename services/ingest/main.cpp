#include "event_store.hpp"
#include "gabe/service.hpp"
#include "handlers.hpp"

int main(int argc, char** argv) {
  gabe::ServiceSpec spec;
  spec.name = "ingest";
  spec.default_port = 8081;
  spec.help =
      "gabe-ingest receives CRM webhooks (Standard Webhooks signed) and NDJSON bulk imports, and "
      "keeps\n"
      "donors, gifts, consent and the raw-event inbox in PostgreSQL. See docs/ingest.md.\n"
      "\n"
      "Ingest settings:\n"
      "  GABE_INGEST_WRITERS      webhook batches applied at once (group commit; default 1)\n"
      "  GABE_INGEST_LINGER_US    with several writers: while a batch is being applied, how long "
      "the next\n"
      "                           waits to grow (default 2000)\n"
      "  GABE_INGEST_BATCH_MAX    most webhook events in one batch (default 256)\n"
      "\n"
      "Retention of raw events (ingest.inbox; also gabectl purge):\n"
      "  GABE_RETENTION_DAYS      events received longer ago than this are deleted (default 90)\n"
      "  GABE_RETENTION_INTERVAL_SECONDS  seconds between purge runs; 0 turns the purge off "
      "(default 3600)\n"
      "  GABE_RETENTION_BATCH     events deleted per transaction (default 5000)\n";
  spec.on_connect = gabe::ingest::prepare_ingest_connection;
  spec.register_routes = gabe::ingest::register_routes;
  return gabe::run_service(argc, argv, spec);
}
