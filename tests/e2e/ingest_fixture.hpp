// Ingest's end-to-end fixture: the generic service fixture (tests/support/service_fixture.hpp)
// with what is ingest's own: a webhook source "crm" made with the real gabectl, signed
// webhooks to it, events, NDJSON imports and a donor's consent as the API shows it.
#pragma once

#include <string>

#include "service_fixture.hpp"

namespace gabe::test {

class IngestTest : public ServiceTest {
 protected:
  IngestTest() : ServiceTest("ingest", {{"GABE_HTTP_WORKERS", "8"}}) {}
  void prepare_database() override;

  // Sends one signed webhook to /v1/webhooks/{source}.
  HttpResponse webhook(const std::string& body, const std::string& id,
                       const std::string& source = "crm", const std::string& secret = "",
                       long timestamp_offset = 0);
  HttpResponse event(const std::string& type, const std::string& data_json, const std::string& id,
                     const std::string& timestamp = "2026-11-24T10:00:00Z");
  // POST /v1/import of an NDJSON body as admin.
  HttpResponse import_ndjson(const std::string& body);
  // "email=yes post=no phone=- sms=-": the consent of the donor `ref` of `source` as
  // GET /v1/donors shows it ("status N" when it answers N instead of 200).
  std::string consent_of(const std::string& source, const std::string& ref);

  std::string secret_;  // of the source "crm"
};

}  // namespace gabe::test
