// gabe-civicrm-standin: the tests' CiviCRM APIv4 stand-in (tests/support/civicrm_standin.cpp)
// filled with a generated site, for the pull benchmark (bench/run_bench.sh, phase P).
//
//   gabe-civicrm-standin --contacts N --contributions M --ndjson FILE --source NAME
//
// Serves N contacts and M contributions (field names and formats of civicrm-core's entity
// definitions, as in the tests), writes the same records as canonical NDJSON events to FILE
// (donor.upserted and gift.created under source NAME: what the import reference loads), prints
// "URL KEY" on one line once it is ready, and serves until standard input closes.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <string>

#include "civicrm_standin.hpp"

namespace {

long option(int argc, char** argv, const std::string& name, long fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return std::strtol(argv[i + 1], nullptr, 10);
  }
  return fallback;
}

std::string text_option(int argc, char** argv, const std::string& name) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (argv[i] == "--" + name) return argv[i + 1];
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  namespace civi = gabe::test::civicrm;
  const long contacts = option(argc, argv, "contacts", 100000);
  const long contributions = option(argc, argv, "contributions", 1000000);
  const std::string ndjson = text_option(argc, argv, "ndjson");
  const std::string source = text_option(argc, argv, "source");
  if (contacts < 1 || contributions < 0 || ndjson.empty() || source.empty()) {
    std::cerr << "usage: gabe-civicrm-standin --contacts N --contributions M --ndjson FILE "
                 "--source NAME\n";
    return 2;
  }
  gabe::test::CivicrmStandin site("bench-key-" + std::to_string(contacts));
  std::ofstream out(ndjson);
  const char* statuses[] = {"Completed", "Completed", "Completed", "Completed", "Completed",
                            "Completed", "Completed", "Pending",   "Refunded",  "Cancelled"};
  const char* canonical_status[] = {"completed", "completed", "completed", "completed",
                                    "completed", "completed", "completed", "pending",
                                    "refunded",  "cancelled"};
  const char* instruments[] = {"Credit Card", "RCUR", "EFT", "PayPal", "Cash"};
  const char* channels[] = {"card", "sepa", "transfer", "paypal", "cash"};
  char line[1024];
  for (long i = 1; i <= contacts; ++i) {
    const std::string first = "Vorname" + std::to_string(i % 997);
    const std::string last = "Nachname" + std::to_string(i);
    const std::string email = "p" + std::to_string(i) + "@example.org";
    site.put("Contact", civi::contact(i, "Individual", first, last, email, "2026-11-01 10:00:00"));
    std::snprintf(
        line, sizeof line,
        R"({"id":"pc-%ld","source":"%s","type":"donor.upserted","timestamp":"2026-11-01T09:00:00Z","data":{"donor_ref":"%ld","first_name":"%s","last_name":"%s","email":"%s","country":"DE","consent":{"post":true,"email":false,"phone":false,"sms":false},"updated_at":"2026-11-01T09:00:00Z"}})",
        i, source.c_str(), i, first.c_str(), last.c_str(), email.c_str());
    out << line << '\n';
  }
  for (long j = 1; j <= contributions; ++j) {
    const long contact = 1 + (j * 7919) % contacts;
    const long cents = 500 + (j * 104729) % 20000;
    const int s = static_cast<int>(j % 10);
    const int k = static_cast<int>(j % 5);
    char amount[32];
    std::snprintf(amount, sizeof amount, "%ld.%02ld", cents / 100, cents % 100);
    char day[16];
    std::snprintf(day, sizeof day, "20%02ld-%02ld-%02ld", 20 + j % 7, 1 + j % 12, 1 + j % 28);
    site.put("Contribution", civi::contribution(j, contact, amount, std::string(day) + " 12:00:00",
                                                statuses[s], instruments[k]));
    std::snprintf(
        line, sizeof line,
        R"({"id":"pg-%ld","source":"%s","type":"gift.created","timestamp":"2026-11-01T09:00:00Z","data":{"gift_ref":"%ld","donor_ref":"%ld","amount":"%s","currency":"EUR","received_on":"%s","status":"%s","channel":"%s","fund":"Donation"}})",
        j, source.c_str(), j, contact, amount, day, canonical_status[s], channels[k]);
    out << line << '\n';
  }
  out.close();
  std::cout << site.base_url() << " " << site.api_key() << std::endl;
  // Serve until the benchmark closes our standard input (or kills us).
  std::string ignored;
  while (std::getline(std::cin, ignored)) {
  }
  return 0;
}
