// The adapters: how a received body is read into a canonical event. One table, used by the
// webhook handler, by replays of stored events and by `gabectl source add --adapter`.
#pragma once

#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "canonical_event.hpp"

namespace gabe::ingest {

// What a source is configured with beyond its adapter and secrets, handed to the adapter's
// mapping. Loaded with the source (load_sources, event_store.hpp).
struct SourceConfig {
  // civicrm: per opt-in channel (email, phone, sms), the id of the CiviCRM group whose members
  // (status Added) have given consent; a channel without a group has no consent.
  std::map<std::string, std::string, std::less<>> optin_groups;
};

struct Adapter {
  std::string_view name;
  // Whether a webhook source can be registered with it; `import` only reads stored NDJSON
  // lines again on replay.
  bool for_sources;
  // Fills `event` (source, event_id, raw and adapter are set already) from the parsed body;
  // `fallback_time` is the instant to use when the body has none, `config` the source's.
  // Throws 400 when the body has not the adapter's shape.
  void (*map)(CanonicalEvent& event, const JsonValue& body, const std::string& fallback_time,
              const SourceConfig& config);
};

// Every adapter, in table order.
std::span<const Adapter> adapters();

// The adapter called `name`, or nullptr.
const Adapter* find_adapter(std::string_view name);

// The names a source can be registered with, in table order ("generic", "civicrm").
std::vector<std::string_view> source_adapter_names();

// Parses `body` and maps it with the adapter called `adapter` and the source's `config`.
// Throws 400 when the body is not JSON or not of the adapter's shape, and 422 for an adapter
// that is not in the table.
CanonicalEvent map_received(std::string_view adapter, const std::string& source,
                            const std::string& event_id, const std::string& body,
                            const std::string& fallback_time, const SourceConfig& config = {});

}  // namespace gabe::ingest
