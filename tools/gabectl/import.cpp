// gabectl import: canonical NDJSON straight into the database, through the same importer as
// POST /v1/import.
#include <sys/stat.h>

#include <cstdio>
#include <iostream>
#include <vector>

#include "commands.hpp"
#include "event_store.hpp"
#include "gabe/values.hpp"
#include "importer.hpp"
#include "ndjson.hpp"
#include "progress.hpp"

namespace gabe::gabectl {

namespace {

// The size of a regular file (also behind stdin), else 0: progress then shows no time left.
std::uint64_t size_of(std::FILE* f) {
  struct stat st {};
  if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) return 0;
  return static_cast<std::uint64_t>(st.st_size);
}

}  // namespace

int import_file(const Args& args) {
  const auto& file = args.operands().at(0);
  const auto source = args.need("source");
  std::FILE* in = file == "-" ? stdin : std::fopen(file.c_str(), "rb");
  if (!in) throw UsageError("cannot open " + file);
  auto conn = connect_database();
  ingest::prepare_ingest_connection(conn);
  auto sources = ingest::load_sources(conn);
  if (!sources.count(source)) throw UsageError("no source '" + source + "' (gabectl source add)");

  ingest::Importer importer(
      [&conn](const std::vector<ingest::CanonicalEvent>& events) {
        return ingest::apply_events(conn, events);
      },
      [&sources](const std::string& s) { return sources.count(s) > 0; }, source, now_instant());
  std::uint64_t lines = 0, bytes = 0;
  ingest::LineSplitter splitter(1 << 20, [&](std::string_view line, std::size_t n, bool too_long) {
    importer.line(line, n, too_long);
    lines = n;
  });
  Progress progress(std::cerr, Progress::stderr_is_terminal(), "lines", size_of(in));
  std::vector<char> buffer(1 << 20);
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), in)) {
    splitter.feed({buffer.data(), n});
    bytes += n;
    progress.update(lines, bytes);
  }
  splitter.finish();
  if (in != stdin) std::fclose(in);
  const auto& summary = importer.finish();
  progress.update(lines, bytes);
  progress.finish();
  std::cout << summary.to_json() << "\n";
  return summary.rejected == 0 ? 0 : 3;
}

}  // namespace gabe::gabectl
