// Synthetic but realistic German donor files as canonical NDJSON events: skewed gift amounts,
// December seasonality, recurring donors, lapsing, campaigns with appeals and responses, and a
// planted signal (donors who answered an appeal recently give again more often) that a good
// model can find. Deterministic for a seed.
#pragma once

#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace gabe::demo {

struct Options {
  std::uint64_t donors = 1000;
  std::uint64_t seed = 1;
  std::string source = "demo";
  std::string end_date = "2026-11-24";  // the last day of the history
  int years = 3;
  // Called now and then with the donors written so far and the events written so far.
  std::function<void(std::uint64_t donors, std::uint64_t events)> progress;
};

// Writes the events to `out`; returns how many.
std::uint64_t write_demo_data(const Options& options, std::FILE* out);

}  // namespace gabe::demo
