// Canonical events: the one shape every adapter maps onto. map_event() validates the data of
// one event type and writes it normalised (money in cents, instants in UTC, defaults filled),
// ready for ingest.apply_events in the database.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gabe/json.hpp"

namespace gabe::ingest {

// A valid gift.created or gift.updated as the typed columns the database writes.
struct GiftColumns {
  std::string gift_ref;
  std::int64_t amount_cents = 0;
  std::string currency;
  std::string received_on;  // YYYY-MM-DD
  std::optional<std::string> campaign_ref;
  std::optional<std::string> channel;
  std::optional<std::string> fund;
  std::optional<std::string> recurring_ref;
  std::string status;
};

struct CanonicalEvent {
  std::string source;
  std::string event_id;
  std::string type;
  std::string occurred_at;            // RFC 3339, UTC
  std::string raw;                    // what was received, kept for replay
  std::string adapter = "generic";    // how `raw` is read again on replay: generic, civicrm, import
  std::string donor_ref;              // the person the event names (also when rejected), or empty
  std::string data_json;              // normalised data (empty when rejected)
  std::optional<GiftColumns> gift;    // the same data, typed, for a valid gift.created/updated
  std::optional<std::string> reject;  // why the event is rejected, if it is
  // Why the event is answered but neither stored nor applied (a CiviCRM test contribution),
  // if it is; adapters set it, map_event never does.
  std::optional<std::string> ignored;
  std::vector<FieldError> errors;  // the field errors behind `reject`

  // Merges and erasures depend on everything before them: they go alone in a batch.
  bool is_barrier() const { return type == "donor.merged" || type == "donor.erased"; }
};

bool is_known_event_type(std::string_view type);

// Validates `data` for `type` and fills event.data_json, or event.reject and event.errors.
// `occurred_at` is the event's own timestamp, used where the data has no time of its own.
void map_event(CanonicalEvent& event, const JsonValue& data);

// The generic adapter's envelope {"type", "timestamp", "data"}: throws 400 when it is not an
// object with a string type and an object data. `fallback_time` is used without timestamp.
void map_generic_envelope(CanonicalEvent& event, const JsonValue& envelope,
                          const std::string& fallback_time);

// One NDJSON import line {"id", "source", "type", "timestamp", "data"}: like the envelope plus
// id and source; `default_source` applies when the line has none.
void map_import_line(CanonicalEvent& event, const JsonValue& line,
                     const std::string& default_source, const std::string& fallback_time);

}  // namespace gabe::ingest
