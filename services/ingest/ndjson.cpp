#include "ndjson.hpp"

namespace gabe::ingest {

void LineSplitter::emit(std::string_view line) {
  ++number_;
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (too_long_) {
    on_line_({}, number_, true);
  } else if (line.find_first_not_of(" \t\r") != std::string_view::npos) {
    on_line_(line, number_, false);
  }
  too_long_ = false;
}

void LineSplitter::feed(std::string_view chunk) {
  while (!chunk.empty()) {
    auto nl = chunk.find('\n');
    std::string_view piece = chunk.substr(0, nl);
    if (!too_long_) {
      if (partial_.size() + piece.size() > max_line_) {
        too_long_ = true;
        partial_.clear();
      }
    }
    if (nl == std::string_view::npos) {
      if (!too_long_) partial_.append(piece);
      return;
    }
    if (partial_.empty()) {
      emit(piece);
    } else {
      partial_.append(piece);
      emit(partial_);
      partial_.clear();
    }
    chunk.remove_prefix(nl + 1);
  }
}

void LineSplitter::finish() {
  if (!partial_.empty() || too_long_) {
    std::string last = std::move(partial_);
    partial_.clear();
    emit(last);
  }
}

}  // namespace gabe::ingest
