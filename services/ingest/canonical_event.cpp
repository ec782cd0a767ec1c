#include "canonical_event.hpp"

#include <algorithm>

#include "gabe/values.hpp"

namespace gabe::ingest {

namespace {

const std::vector<std::string_view> kEventTypes = {
    "donor.upserted", "donor.merged",  "donor.erased",       "consent.changed",   "gift.created",
    "gift.updated",   "gift.refunded", "recurring.upserted", "campaign.upserted", "appeal.sent"};
const std::vector<std::string_view> kConsentChannels = {"email", "post", "phone", "sms"};
const std::vector<std::string_view> kGiftChannels = {"online", "sepa",   "transfer", "cash",
                                                     "card",   "paypal", "other"};
const std::vector<std::string_view> kGiftStatuses = {"completed", "pending", "failed", "refunded",
                                                     "cancelled"};
const std::vector<std::string_view> kIntervals = {
    "daily", "weekly", "fortnightly", "monthly", "quarterly", "half_yearly", "yearly"};
const std::vector<std::string_view> kRecurringStatuses = {"active", "paused", "cancelled",
                                                          "lapsed"};
const std::vector<std::string_view> kGenders = {"f", "m", "d", "u"};
const std::vector<std::string_view> kAgeBands = {"<30", "30-44", "45-59", "60-74", "75+"};

bool all_upper_letters(std::string_view s, std::size_t n) {
  return s.size() == n &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

bool is_letter(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// "de", "en", "de-DE", "de_DE": two letters, then optionally a region.
bool is_language_tag(std::string_view s) {
  if (s.size() < 2 || s.size() > 12 || !is_letter(s[0]) || !is_letter(s[1])) return false;
  if (s.size() == 2) return true;
  return (s[2] == '-' || s[2] == '_') && s.size() > 3 &&
         std::all_of(s.begin() + 3, s.end(),
                     [](char c) { return is_letter(c) || (c >= '0' && c <= '9'); });
}

// A time of the data more than a day ahead would block every later update of the record.
constexpr std::int64_t kFutureToleranceSeconds = 86400;

bool too_far_ahead(const std::string& instant) {
  auto t = parse_instant(instant);
  return t && t->epoch_seconds > now_epoch_seconds() + kFutureToleranceSeconds;
}

std::optional<std::string> past_instant(FieldReader& r, std::string_view key) {
  auto v = r.instant(key);
  if (v && too_far_ahead(*v)) {
    r.add_error(key, "must not be more than a day in the future");
    return std::nullopt;
  }
  return v;
}

// Writes an optional string field only when present.
template <typename T>
void put(JsonWriter& w, std::string_view key, const std::optional<T>& v) {
  if (v) w.field(key, *v);
}

void map_donor_upserted(const JsonValue& data, FieldReader& r, JsonWriter& w,
                        const std::string& occurred_at) {
  put(w, "donor_ref", r.string("donor_ref", true));
  for (const char* key :
       {"first_name", "last_name", "organization_name", "street", "postal_code", "city"}) {
    put(w, key, r.string(key, false, 200));
  }
  if (auto email = r.string("email", false, 254)) {
    if (email->find('@') == std::string::npos) {
      r.add_error("email", "must be an e-mail address");
    } else {
      w.field("email", *email);
    }
  }
  put(w, "phone", r.string("phone", false, 40));
  if (auto country = r.string("country", false, 2)) {
    if (!all_upper_letters(*country, 2)) {
      r.add_error("country", "must be an ISO 3166-1 alpha-2 code like DE");
    } else {
      w.field("country", *country);
    }
  }
  if (auto language = r.string("language", false, 12)) {
    if (!is_language_tag(*language)) {
      r.add_error("language", "must be a language code like de or en");
    } else {
      std::string lang = language->substr(0, 2);
      std::transform(lang.begin(), lang.end(), lang.begin(),
                     [](unsigned char c) { return std::tolower(c); });
      w.field("language", lang);
    }
  }
  put(w, "tags", r.string_list("tags", false, 100));
  auto updated_at = past_instant(r, "updated_at");
  w.field("updated_at", updated_at.value_or(occurred_at));
  bool grants = false;
  if (const JsonValue* consent = r.object("consent")) {
    FieldReader cr(*consent, "data.consent.");
    w.key("consent").begin_object();
    for (auto channel : kConsentChannels) {
      if (auto granted = cr.boolean(channel)) {
        w.field(channel, *granted);
        grants |= *granted;
      }
    }
    for (const auto& m : consent->GetObject()) {
      std::string_view name(m.name.GetString(), m.name.GetStringLength());
      if (std::find(kConsentChannels.begin(), kConsentChannels.end(), name) ==
          kConsentChannels.end()) {
        cr.add_error(name, "is not a consent channel (email, post, phone, sms)");
      }
    }
    w.end_object();
    for (const auto& e : cr.errors()) r.add_error(e.field.substr(5), e.message);
  }
  // Consent read off a CRM's opt-out flags (a flag not set) is no affirmative consent: it
  // keeps the channels' state but does not lift an erasure tombstone.
  const JsonValue* basis = member(data, "consent_basis");
  const bool affirmative =
      !(basis && basis->IsString() && std::string_view(basis->GetString()) == "opt_out_flags");
  w.field("grants_consent", grants && affirmative);
  if (const JsonValue* audit = r.object("audit")) {
    FieldReader ar(*audit, "data.audit.");
    w.key("audit").begin_object();
    put(w, "gender", ar.one_of("gender", kGenders));
    put(w, "age_band", ar.one_of("age_band", kAgeBands));
    w.end_object();
    for (const auto& e : ar.errors()) r.add_error(e.field.substr(5), e.message);
  }
}

void map_gift(FieldReader& r, JsonWriter& w, std::optional<GiftColumns>& gift) {
  auto gift_ref = r.string("gift_ref", true);
  auto donor_ref = r.string("donor_ref", true);
  auto amount = r.money("amount", true);
  auto currency = r.currency("currency");
  auto received_on = r.date("received_on", true);
  GiftColumns g;
  g.campaign_ref = r.string("campaign_ref");
  g.channel = r.one_of("channel", kGiftChannels);
  g.fund = r.string("fund", false, 200);
  g.recurring_ref = r.string("recurring_ref");
  g.status = r.one_of("status", kGiftStatuses).value_or("completed");
  put(w, "gift_ref", gift_ref);
  put(w, "donor_ref", donor_ref);
  put(w, "amount_cents", amount);
  w.field("currency", currency);
  put(w, "received_on", received_on);
  put(w, "campaign_ref", g.campaign_ref);
  put(w, "channel", g.channel);
  put(w, "fund", g.fund);
  put(w, "recurring_ref", g.recurring_ref);
  w.field("status", g.status);
  if (!gift_ref || !donor_ref || !amount || !received_on) return;
  g.gift_ref = std::move(*gift_ref);
  g.amount_cents = *amount;
  g.currency = std::move(currency);
  g.received_on = std::move(*received_on);
  gift = std::move(g);
}

void map_recurring(FieldReader& r, JsonWriter& w) {
  put(w, "recurring_ref", r.string("recurring_ref", true));
  put(w, "donor_ref", r.string("donor_ref", true));
  put(w, "amount_cents", r.money("amount", true));
  auto currency = r.currency("currency");
  w.field("currency", currency);
  put(w, "interval", r.one_of("interval", kIntervals, true));
  put(w, "status", r.one_of("status", kRecurringStatuses, true));
  put(w, "started_on", r.date("started_on"));
  put(w, "cancelled_on", r.date("cancelled_on"));
  put(w, "cancel_reason", r.string("cancel_reason", false, 500));
}

void map_campaign(FieldReader& r, JsonWriter& w) {
  put(w, "campaign_ref", r.string("campaign_ref", true));
  put(w, "name", r.string("name", false, 200));
  put(w, "channel", r.string("channel", false, 40));
  auto starts = r.date("starts_on");
  auto ends = r.date("ends_on");
  if (starts && ends && *ends < *starts) r.add_error("ends_on", "must not be before starts_on");
  put(w, "starts_on", starts);
  put(w, "ends_on", ends);
  put(w, "goal_cents", r.money("goal_amount"));
  auto cost = r.money("cost_per_contact", false, false);
  if (cost && *cost < 0) {
    r.add_error("cost_per_contact", "must not be negative");
  } else {
    put(w, "cost_per_contact_cents", cost);
  }
}

// The person an event names, also when it is rejected, so that erasure can find it.
std::string donor_ref_of(const JsonValue& data) {
  const JsonValue* ref = member(data, "donor_ref");
  if (ref && ref->IsString() && ref->GetStringLength() <= 256)
    return {ref->GetString(), ref->GetStringLength()};
  return {};
}

}  // namespace

bool is_known_event_type(std::string_view type) {
  return std::find(kEventTypes.begin(), kEventTypes.end(), type) != kEventTypes.end();
}

void map_event(CanonicalEvent& event, const JsonValue& data) {
  event.donor_ref = donor_ref_of(data);
  if (!is_known_event_type(event.type)) {
    event.reject = "unknown event type '" + event.type.substr(0, 64) + "'";
    event.errors.push_back({"type", "is not a known event type"});
    return;
  }
  if (!data.IsObject()) {
    event.reject = "data must be an object";
    event.errors.push_back({"data", "must be an object"});
    return;
  }
  FieldReader r(data, "data.");
  JsonWriter w;
  w.begin_object();
  const std::string& t = event.type;
  if (t == "donor.upserted") {
    map_donor_upserted(data, r, w, event.occurred_at);
  } else if (t == "donor.merged") {
    put(w, "donor_ref", r.string("donor_ref", true));
    auto refs = r.string_list("merged_refs", true, 1000);
    if (refs && refs->empty()) r.add_error("merged_refs", "must name at least one ref");
    put(w, "merged_refs", refs);
  } else if (t == "donor.erased") {
    put(w, "donor_ref", r.string("donor_ref", true));
  } else if (t == "consent.changed") {
    put(w, "donor_ref", r.string("donor_ref", true));
    put(w, "channel", r.one_of("channel", {"email", "post", "phone", "sms", "profiling"}, true));
    put(w, "granted", r.boolean("granted", true));
    w.field("at", past_instant(r, "at").value_or(event.occurred_at));
    put(w, "consent_source", r.string("source", false, 200));
  } else if (t == "gift.created" || t == "gift.updated") {
    map_gift(r, w, event.gift);
  } else if (t == "gift.refunded") {
    put(w, "gift_ref", r.string("gift_ref", true));
  } else if (t == "recurring.upserted") {
    map_recurring(r, w);
  } else if (t == "campaign.upserted") {
    map_campaign(r, w);
  } else if (t == "appeal.sent") {
    put(w, "campaign_ref", r.string("campaign_ref", true));
    put(w, "donor_ref", r.string("donor_ref", true));
    put(w, "sent_on", r.date("sent_on", true));
    put(w, "channel", r.string("channel", false, 40));
  }
  w.end_object();
  if (!r.ok()) {
    event.gift.reset();
    event.errors = r.errors();
    std::string reason = "invalid data:";
    for (const auto& e : event.errors) reason += " " + e.field + " " + e.message + ";";
    reason.pop_back();
    event.reject = reason;
    return;
  }
  event.data_json = w.take();
  // Refunds and campaigns name no person (a donor_ref in them is not read).
  if (t == "gift.refunded" || t == "campaign.upserted") event.donor_ref.clear();
}

void map_generic_envelope(CanonicalEvent& event, const JsonValue& envelope,
                          const std::string& fallback_time) {
  if (!envelope.IsObject()) throw bad_request("The event must be a JSON object.");
  const JsonValue* type = member(envelope, "type");
  const JsonValue* data = member(envelope, "data");
  if (!type || !type->IsString() || type->GetStringLength() == 0 || type->GetStringLength() > 100) {
    throw bad_request("The event needs a string `type`.");
  }
  if (!data || !data->IsObject()) throw bad_request("The event needs an object `data`.");
  event.type.assign(type->GetString(), type->GetStringLength());
  FieldReader r(envelope);
  auto ts = past_instant(r, "timestamp");
  event.occurred_at = ts.value_or(fallback_time);
  if (!r.ok()) {
    event.donor_ref = donor_ref_of(*data);
    event.errors = r.errors();
    event.reject = "invalid timestamp";
    return;
  }
  map_event(event, *data);
}

void map_import_line(CanonicalEvent& event, const JsonValue& line,
                     const std::string& default_source, const std::string& fallback_time) {
  if (!line.IsObject()) throw bad_request("The line must be a JSON object.");
  FieldReader r(line);
  auto id = r.string("id", true, 200);
  auto source = r.string("source", false, 63);
  if (!id) throw bad_request("The line needs a string `id` of at most 200 bytes.");
  if (!r.ok()) throw bad_request("The line's `source` must be a source name.");
  event.event_id = *id;
  event.source = source.value_or(default_source);
  event.adapter = "import";
  if (event.source.empty()) throw bad_request("The line needs a `source`.");
  map_generic_envelope(event, line, fallback_time);
}

}  // namespace gabe::ingest
