#include "ingest_fixture.hpp"

namespace gabe::test {

void IngestTest::prepare_database() {
  std::string out;
  ASSERT_EQ(gabectl({"source", "add", "crm", "--adapter", "generic"}, &out), 0);
  secret_ = last_line(out);
  ASSERT_EQ(secret_.substr(0, 6), "whsec_");
}

HttpResponse IngestTest::webhook(const std::string& body, const std::string& id,
                                 const std::string& source, const std::string& secret,
                                 long timestamp_offset) {
  return send_webhook(*client_, secret.empty() ? secret_ : secret, id, body, source,
                      timestamp_offset);
}

HttpResponse IngestTest::event(const std::string& type, const std::string& data_json,
                               const std::string& id, const std::string& timestamp) {
  return webhook(
      R"({"type":")" + type + R"(","timestamp":")" + timestamp + R"(","data":)" + data_json + "}",
      id);
}

HttpResponse IngestTest::import_ndjson(const std::string& body) {
  return client_->request(
      "POST", "/v1/import",
      {{"Authorization", "Bearer " + admin_token_}, {"Content-Type", "application/x-ndjson"}},
      body);
}

std::string IngestTest::consent_of(const std::string& source, const std::string& ref) {
  auto r = get("/v1/donors?source=" + source + "&ref=" + ref);
  if (r.status != 200) return "status " + std::to_string(r.status);
  auto d = json(r);
  const auto& consent = (*d)["consent"];
  std::string out;
  for (const char* c : {"email", "post", "phone", "sms"}) {
    out += std::string(out.empty() ? "" : " ") + c + "=";
    if (!consent.HasMember(c)) {
      out += "-";
    } else {
      out += consent[c]["granted"].GetBool() ? "yes" : "no";
    }
  }
  return out;
}

}  // namespace gabe::test
