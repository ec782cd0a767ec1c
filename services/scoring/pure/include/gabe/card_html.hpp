// A model card (the JSON of GET /v1/models/{id}) as a readable, self-contained HTML page for
// GET /v1/models/{id}/card.html: no scripts, no external resources, inline CSS, charts as
// inline SVG (calibration by decile, global importance, score distribution), tables of the
// metrics beside the RFM baseline, windows and sizes, parameters, training and activation,
// the fairness report with a clear pass/fail of the four-fifths rule, the features used and the
// protected attributes left out. Every text taken from the card is HTML-escaped; a missing or
// mistyped field is shown as "—", never an error.
#pragma once

#include <string>
#include <string_view>

#include <rapidjson/document.h>

namespace gabe {

// `lang` "de" (the default, also for anything unknown) or "en".
std::string render_card_html(const rapidjson::Value& card, std::string_view lang = "de");

// &, <, >, " and ' as entities; safe in element content and quoted attributes.
std::string html_escape(std::string_view text);

}  // namespace gabe
