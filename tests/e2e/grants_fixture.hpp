// gabe-grants' end-to-end fixture: the generic service fixture with a fast scheduler and
// outbox clock (so reminders, retries and dead letters happen within seconds), JSON requests
// with a role's token, and small builders for funders, grants and deadlines.
#pragma once

#include <map>
#include <string>

#include "service_fixture.hpp"

namespace gabe::test {

class GrantsTest : public ServiceTest {
 protected:
  explicit GrantsTest(std::map<std::string, std::string> extra = {});

  // A request with a JSON body (Content-Type application/json) and `token` (admin if empty).
  HttpResponse call(const std::string& method, const std::string& target,
                    const std::string& body = "", const std::string& token = "");
  // Creates a funder and a grant as fundraiser; returns the grant's id.
  std::int64_t make_grant(const std::string& title = "Inklusion im Quartier");
  // Creates a deadline on `grant` from the JSON fields given (without braces); returns its id.
  std::int64_t make_deadline(std::int64_t grant, const std::string& fields);
  // An RFC 3339 instant `seconds` from now (UTC).
  static std::string instant_from_now(long seconds);
  // The value of one Prometheus sample line ("name{labels}") on /metrics, -1 when absent.
  double metric(const std::string& sample);
};

std::int64_t id_of(const HttpResponse& r);

}  // namespace gabe::test
