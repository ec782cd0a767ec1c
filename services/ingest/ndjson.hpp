// Splits a byte stream into lines for NDJSON import without holding more than one line.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace gabe::ingest {

class LineSplitter {
 public:
  // on_line(line, line_number); over-long lines are reported with too_long = true and
  // their content dropped.
  using LineHandler = std::function<void(std::string_view line, std::size_t number, bool too_long)>;
  LineSplitter(std::size_t max_line, LineHandler on_line)
      : max_line_(max_line), on_line_(std::move(on_line)) {}

  void feed(std::string_view chunk);
  // Flushes a last line without a newline.
  void finish();

 private:
  void emit(std::string_view line);
  std::size_t max_line_;
  LineHandler on_line_;
  std::string partial_;
  bool too_long_ = false;
  std::size_t number_ = 0;
};

}  // namespace gabe::ingest
