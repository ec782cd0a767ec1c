#include "adapters.hpp"

#include "civicrm_adapter.hpp"

namespace gabe::ingest {

namespace {

void map_generic(CanonicalEvent& event, const JsonValue& body, const std::string& fallback_time,
                 const SourceConfig&) {
  map_generic_envelope(event, body, fallback_time);
}

void map_civicrm_body(CanonicalEvent& event, const JsonValue& body,
                      const std::string& fallback_time, const SourceConfig& config) {
  event.occurred_at = fallback_time;
  map_civicrm_event(event, body, config);
}

// A stored import line: its own id and source are read, but the inbox row keeps its identity.
void map_stored_import_line(CanonicalEvent& event, const JsonValue& body,
                            const std::string& fallback_time, const SourceConfig&) {
  const std::string source = event.source;
  const std::string event_id = event.event_id;
  map_import_line(event, body, source, fallback_time);
  event.source = source;
  event.event_id = event_id;
}

constexpr Adapter kAdapters[] = {
    {"generic", true, &map_generic},
    {"civicrm", true, &map_civicrm_body},
    {"import", false, &map_stored_import_line},
};

}  // namespace

std::span<const Adapter> adapters() {
  return kAdapters;
}

const Adapter* find_adapter(std::string_view name) {
  for (const auto& a : kAdapters) {
    if (a.name == name) return &a;
  }
  return nullptr;
}

std::vector<std::string_view> source_adapter_names() {
  std::vector<std::string_view> out;
  for (const auto& a : kAdapters) {
    if (a.for_sources) out.push_back(a.name);
  }
  return out;
}

CanonicalEvent map_received(std::string_view adapter, const std::string& source,
                            const std::string& event_id, const std::string& body,
                            const std::string& fallback_time, const SourceConfig& config) {
  const Adapter* a = find_adapter(adapter);
  if (!a) throw unprocessable("The event names an unknown adapter '" + std::string(adapter) + "'.");
  CanonicalEvent event;
  event.source = source;
  event.event_id = event_id;
  event.raw = body;
  event.adapter = std::string(adapter);
  auto doc = parse_json(body);
  a->map(event, *doc, fallback_time, config);
  return event;
}

}  // namespace gabe::ingest
