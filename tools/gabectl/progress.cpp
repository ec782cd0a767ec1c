#include "progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace gabe::gabectl {

namespace {

constexpr auto kInterval = std::chrono::milliseconds(250);

// 75 -> "1:15", 3725 -> "1:02:05".
std::string duration_text(double seconds) {
  const auto s = static_cast<std::uint64_t>(std::llround(std::max(0.0, seconds)));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%llu:%02llu:%02llu", static_cast<unsigned long long>(s / 3600),
                  static_cast<unsigned long long>(s / 60 % 60),
                  static_cast<unsigned long long>(s % 60));
  } else {
    std::snprintf(buf, sizeof buf, "%llu:%02llu", static_cast<unsigned long long>(s / 60),
                  static_cast<unsigned long long>(s % 60));
  }
  return buf;
}

}  // namespace

std::string group_thousands(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

Progress::Progress(std::ostream& out, bool enabled, std::string unit, std::uint64_t total,
                   Clock clock)
    : out_(out),
      enabled_(enabled),
      unit_(std::move(unit)),
      total_(total),
      clock_(std::move(clock)),
      start_(enabled_ ? clock_() : std::chrono::steady_clock::time_point{}),
      last_draw_(start_) {}

void Progress::update(std::uint64_t count, std::uint64_t done) {
  if (!enabled_) return;
  count_ = count;
  done_ = done;
  const auto now = clock_();
  if (now - last_draw_ < kInterval) return;
  last_draw_ = now;
  const double seconds = std::chrono::duration<double>(now - start_).count();
  draw(format(count_, unit_, seconds, done_, total_));
}

void Progress::finish() {
  if (!enabled_ || !drawn_) return;
  const double seconds = std::chrono::duration<double>(clock_() - start_).count();
  draw(format(count_, unit_, seconds, total_, total_));
  out_ << '\n' << std::flush;
  drawn_ = false;
}

void Progress::draw(const std::string& text) {
  // Spaces over what is left of a longer previous line.
  const std::size_t pad = drawn_width_ > text.size() ? drawn_width_ - text.size() : 0;
  out_ << '\r' << text << std::string(pad, ' ') << std::flush;
  drawn_width_ = text.size();
  drawn_ = true;
}

std::string Progress::format(std::uint64_t count, std::string_view unit, double seconds,
                             std::uint64_t done, std::uint64_t total) {
  std::string out = group_thousands(count) + " " + std::string(unit);
  if (seconds > 0) {
    out += "  " +
           group_thousands(static_cast<std::uint64_t>(static_cast<double>(count) / seconds)) + " " +
           std::string(unit) + "/s";
  }
  if (total > 0) {
    done = std::min(done, total);
    out += "  " + std::to_string(done * 100 / total) + "%";
    if (done == total) {
      out += "  " + duration_text(seconds);
    } else if (done > 0 && seconds > 0) {
      const double left = seconds * static_cast<double>(total - done) / static_cast<double>(done);
      out += "  " + duration_text(left) + " left";
    }
  } else {
    out += "  " + duration_text(seconds);
  }
  return out;
}

bool Progress::stderr_is_terminal() {
  return isatty(STDERR_FILENO) == 1;
}

}  // namespace gabe::gabectl
