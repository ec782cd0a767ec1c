// The `civicrm` adapter: CiviCRM APIv4-shaped bodies {"entity", "action", "values"} mapped onto
// canonical event types and data, which then go through the same validation as every event.
#pragma once

#include <memory>
#include <string>

#include <rapidjson/document.h>

#include "adapters.hpp"
#include "canonical_event.hpp"

namespace gabe::ingest {

// Fills event.type and the canonical data in `data_out` (a document owned by the caller); sets
// event.reject when the entity/action is not supported or a value cannot be read (an unknown
// bare status id), and event.ignored for what is answered but not stored (test and template
// contributions, a GroupContact that is no consent evidence). `config` holds the source's
// opt-in groups. Throws 400 when the body is not an object with string `entity`, `action` and
// object `values`.
void map_civicrm(CanonicalEvent& event, const JsonValue& body, const SourceConfig& config,
                 rapidjson::Document& data_out);

// Convenience: map_civicrm followed by map_event.
void map_civicrm_event(CanonicalEvent& event, const JsonValue& body, const SourceConfig& config);

}  // namespace gabe::ingest
