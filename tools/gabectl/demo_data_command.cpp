// gabectl demo-data: the synthetic donor file of demo_data.hpp on stdout.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "commands.hpp"
#include "demo_data.hpp"
#include "gabe/values.hpp"
#include "progress.hpp"

namespace gabe::gabectl {

namespace {

std::uint64_t parse_count(const std::string& text, const char* what) {
  char* end = nullptr;
  auto v = std::strtoull(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0') throw UsageError(std::string(what) + " must be a whole number");
  return v;
}

}  // namespace

int demo_data(const Args& args) {
  demo::Options o;
  o.donors = parse_count(args.need("donors"), "--donors");
  o.seed = parse_count(args.get("seed").value_or("1"), "--seed");
  o.source = args.get("source").value_or("demo");
  o.end_date = args.get("end-date").value_or(o.end_date);
  o.years = static_cast<int>(parse_count(args.get("years").value_or("3"), "--years"));
  if (!is_valid_date(o.end_date)) throw UsageError("--end-date must be YYYY-MM-DD");
  if (o.years < 1 || o.years > 20) throw UsageError("--years must be from 1 to 20");
  // Progress only when the data goes elsewhere than the terminal it would be drawn on.
  Progress progress(std::cerr, Progress::stderr_is_terminal() && isatty(STDOUT_FILENO) != 1,
                    "events", o.donors);
  o.progress = [&progress](std::uint64_t donors, std::uint64_t events) {
    progress.update(events, donors);
  };
  auto n = demo::write_demo_data(o, stdout);
  std::fflush(stdout);
  progress.update(n, o.donors);
  progress.finish();
  std::cerr << "wrote " << n << " events\n";
  return 0;
}

}  // namespace gabe::gabectl
