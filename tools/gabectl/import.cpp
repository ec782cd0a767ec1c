// gabectl import: canonical NDJSON straight into the database, through the same importer as
// POST /v1/import.
#include <cstdio>
#include <iostream>
#include <vector>

#include "commands.hpp"
#include "event_store.hpp"
#include "gabe/values.hpp"
#include "importer.hpp"
#include "ndjson.hpp"

namespace gabe::gabectl {

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
  ingest::LineSplitter splitter(1 << 20, [&](std::string_view line, std::size_t n, bool too_long) {
    importer.line(line, n, too_long);
  });
  std::vector<char> buffer(1 << 20);
  while (std::size_t n = std::fread(buffer.data(), 1, buffer.size(), in)) {
    splitter.feed({buffer.data(), n});
  }
  splitter.finish();
  if (in != stdin) std::fclose(in);
  const auto& summary = importer.finish();
  std::cout << summary.to_json() << "\n";
  return summary.rejected == 0 ? 0 : 3;
}

}  // namespace gabe::gabectl
