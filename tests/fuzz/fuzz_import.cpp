// libFuzzer target: an NDJSON import body, split at arbitrary chunk boundaries, through the
// line splitter and the importer (with the database call replaced by an echo).
#include <cstddef>
#include <cstdint>
#include <string>

#include "importer.hpp"
#include "ndjson.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 64;
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  gabe::ingest::Importer importer(
      [](const std::vector<gabe::ingest::CanonicalEvent>& events) {
        std::vector<gabe::ingest::ApplyOutcome> out;
        for (const auto& e : events)
          out.push_back({e.event_id, e.reject ? "rejected" : "processed", ""});
        return out;
      },
      [](const std::string& s) { return s == "crm"; }, "crm", "2026-11-24T10:00:00Z", 3);
  gabe::ingest::LineSplitter splitter(256,
                                      [&](std::string_view line, std::size_t n, bool too_long) {
                                        importer.line(line, n, too_long);
                                      });
  for (std::size_t pos = 0; pos < body.size(); pos += chunk) splitter.feed(body.substr(pos, chunk));
  splitter.finish();
  const auto& s = importer.finish();
  if (s.processed + s.rejected + s.duplicates != s.received) __builtin_trap();
  return 0;
}
