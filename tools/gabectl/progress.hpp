// Progress of a long command on a terminal: one line on stderr, rewritten in place with '\r'
// ("1,204,000 lines  48,160 lines/s  37%  0:42 left"), at most four times a second. Off when
// stderr is not a terminal, so that pipes and logs stay clean.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <string_view>

namespace gabe::gabectl {

class Progress {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;

  // Draws on `out` only when `enabled` (see stderr_is_terminal()). `unit` names what is
  // counted ("lines", "events"); `total` is where update()'s `done` ends (file size, number of
  // donors), 0 when unknown: then no percentage and no time left are shown.
  Progress(
      std::ostream& out, bool enabled, std::string unit, std::uint64_t total = 0,
      Clock clock = [] { return std::chrono::steady_clock::now(); });

  // `count` items so far and `done` of the total. Cheap when it does not draw.
  void update(std::uint64_t count, std::uint64_t done = 0);
  // Draws the final count and ends the line, if a line was drawn at all: a command that ends
  // within the first quarter second prints nothing.
  void finish();

  // One line of progress (no '\r'): the count, the rate, and with a total the share done and
  // the time left.
  static std::string format(std::uint64_t count, std::string_view unit, double seconds,
                            std::uint64_t done, std::uint64_t total);
  static bool stderr_is_terminal();

 private:
  void draw(const std::string& text);

  std::ostream& out_;
  bool enabled_;
  std::string unit_;
  std::uint64_t total_;
  Clock clock_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  std::uint64_t count_ = 0;
  std::uint64_t done_ = 0;
  std::size_t drawn_width_ = 0;
  bool drawn_ = false;
};

// 1234567 -> "1,234,567".
std::string group_thousands(std::uint64_t n);

}  // namespace gabe::gabectl
