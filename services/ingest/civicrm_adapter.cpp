#include "civicrm_adapter.hpp"

#include <cstdio>
#include <string_view>

#include "gabe/values.hpp"

namespace gabe::ingest {

namespace {

using Allocator = rapidjson::Document::AllocatorType;

// CiviCRM sends ids and amounts as numbers or strings; canonical refs are strings.
std::optional<std::string> as_text(const JsonValue& values, std::string_view key) {
  const JsonValue* v = member(values, key);
  if (!v) return std::nullopt;
  if (v->IsString()) return std::string(v->GetString(), v->GetStringLength());
  if (v->IsInt64()) return std::to_string(v->GetInt64());
  return std::nullopt;
}

void set_string(rapidjson::Document& d, const char* key, const std::string& value) {
  rapidjson::Value k(key, d.GetAllocator());
  rapidjson::Value v(value.c_str(), static_cast<rapidjson::SizeType>(value.size()),
                     d.GetAllocator());
  d.AddMember(k, v, d.GetAllocator());
}

// Copies values[from] (any JSON value) to data[to] when present.
void copy(rapidjson::Document& d, const JsonValue& values, std::string_view from, const char* to) {
  if (const JsonValue* v = member(values, from)) {
    rapidjson::Value k(to, d.GetAllocator());
    rapidjson::Value copy(*v, d.GetAllocator());
    d.AddMember(k, copy, d.GetAllocator());
  }
}

void copy_text(rapidjson::Document& d, const JsonValue& values, std::string_view from,
               const char* to) {
  if (auto s = as_text(values, from)) set_string(d, to, *s);
}

// The calendar day of a CiviCRM date: "2026-11-20", "2026-11-20 10:00:00" (APIv3/v4) or
// "20261120100000" (older CiviCRM). Anything else is copied as it is, for validation to name.
std::optional<std::string> civicrm_day(std::string_view s) {
  auto is_digits = [](std::string_view t) {
    return !t.empty() && t.find_first_not_of("0123456789") == std::string_view::npos;
  };
  auto is_clock = [&](std::string_view t) {  // HH:MM:SS
    return t.size() == 8 && t[2] == ':' && t[5] == ':' && is_digits(t.substr(0, 2)) &&
           is_digits(t.substr(3, 2)) && is_digits(t.substr(6, 2)) && t.substr(0, 2) < "24" &&
           t.substr(3, 2) < "60" && t.substr(6, 2) < "61";
  };
  std::string day;
  if (s.size() == 10 || (s.size() == 19 && s[10] == ' ' && is_clock(s.substr(11)))) {
    day = std::string(s.substr(0, 10));
  } else if (s.size() == 14 && is_digits(s)) {
    day = std::string(s.substr(0, 4)) + "-" + std::string(s.substr(4, 2)) + "-" +
          std::string(s.substr(6, 2));
    if (!is_clock(std::string(s.substr(8, 2)) + ":" + std::string(s.substr(10, 2)) + ":" +
                  std::string(s.substr(12, 2)))) {
      return std::nullopt;
    }
  } else {
    return std::nullopt;
  }
  if (!is_valid_date(day)) return std::nullopt;
  return day;
}

void copy_date(rapidjson::Document& d, const JsonValue& values, std::string_view from,
               const char* to) {
  const JsonValue* v = member(values, from);
  if (!v) return;
  if (v->IsString()) {
    if (auto day = civicrm_day(std::string_view(v->GetString(), v->GetStringLength()))) {
      set_string(d, to, *day);
      return;
    }
  }
  copy(d, values, from, to);  // let validation name the bad value
}

bool flag(const JsonValue& values, std::string_view key) {
  const JsonValue* v = member(values, key);
  if (!v) return false;
  if (v->IsBool()) return v->GetBool();
  if (v->IsInt()) return v->GetInt() != 0;
  if (v->IsString())
    return std::string_view(v->GetString()) == "1" || std::string_view(v->GetString()) == "true";
  return false;
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string gift_status(const std::string& civi) {
  const std::string s = lower(civi);
  if (s == "completed") return "completed";
  if (s == "pending" || s == "in progress" || s == "partially paid" || s == "overdue")
    return "pending";
  if (s == "failed") return "failed";
  if (s == "refunded" || s == "chargeback") return "refunded";
  if (s == "cancelled") return "cancelled";
  return civi;  // validation reports it
}

std::string gift_channel(const std::string& civi) {
  const std::string s = lower(civi);
  if (s == "credit card" || s == "debit card") return "card";
  if (s == "cash") return "cash";
  if (s == "eft" || s == "bank transfer" || s == "check") return "transfer";
  if (s.find("sepa") != std::string::npos || s.find("direct debit") != std::string::npos)
    return "sepa";
  if (s.find("paypal") != std::string::npos) return "paypal";
  if (s.find("online") != std::string::npos) return "online";
  return "other";
}

std::string recurring_status(const std::string& civi) {
  const std::string s = lower(civi);
  if (s == "in progress" || s == "pending" || s == "processing") return "active";
  if (s == "overdue" || s == "failing") return "paused";
  if (s == "cancelled") return "cancelled";
  if (s == "completed" || s == "failed") return "lapsed";
  return civi;
}

std::string recurring_interval(const JsonValue& values) {
  auto unit = lower(as_text(values, "frequency_unit")
                        .value_or(as_text(values, "frequency_unit:name").value_or("month")));
  long n = 1;
  if (auto s = as_text(values, "frequency_interval")) n = std::strtol(s->c_str(), nullptr, 10);
  if (unit == "year" && n == 1) return "yearly";
  if (unit == "month" && n == 3) return "quarterly";
  if (unit == "month" && n == 6) return "half_yearly";
  if (unit == "month" && n == 12) return "yearly";
  if (unit == "month" && n == 1) return "monthly";
  return unit + "/" + std::to_string(n);
}

void map_contact(const JsonValue& v, rapidjson::Document& d) {
  copy_text(d, v, "id", "donor_ref");
  for (const char* k : {"first_name", "last_name", "organization_name"}) copy(d, v, k, k);
  copy(d, v, "email_primary.email", "email");
  copy(d, v, "phone_primary.phone", "phone");
  copy(d, v, "address_primary.street_address", "street");
  copy(d, v, "address_primary.postal_code", "postal_code");
  copy(d, v, "address_primary.city", "city");
  copy(d, v, "address_primary.country_id:abbr", "country");
  if (auto lang = as_text(v, "preferred_language")) set_string(d, "language", lang->substr(0, 2));
  // Only what the contact says: a flag that is not sent grants nothing and withdraws nothing.
  const bool opt_out = flag(v, "is_opt_out");
  rapidjson::Value consent(rapidjson::kObjectType);
  auto& a = d.GetAllocator();
  auto state = [&](const char* channel, std::string_view field, bool bulk) {
    if (member(v, field)) {
      consent.AddMember(rapidjson::StringRef(channel), !(bulk && opt_out) && !flag(v, field), a);
    } else if (bulk && opt_out) {
      consent.AddMember(rapidjson::StringRef(channel), false, a);
    }
  };
  state("email", "do_not_email", true);
  state("post", "do_not_mail", false);
  state("phone", "do_not_phone", false);
  state("sms", "do_not_sms", true);
  if (consent.MemberCount() > 0) {
    d.AddMember("consent", consent, a);
    set_string(d, "consent_basis", "opt_out_flags");
  }
  if (auto modified = as_text(v, "modified_date")) {
    // APIv4 returns "YYYY-MM-DD HH:MM:SS" in the site's zone; only offset-carrying values are
    // unambiguous, others fall back to the event time.
    if (modified->size() > 19) set_string(d, "updated_at", *modified);
  }
}

void map_contribution(const JsonValue& v, rapidjson::Document& d) {
  copy_text(d, v, "id", "gift_ref");
  copy_text(d, v, "contact_id", "donor_ref");
  copy(d, v, "total_amount", "amount");
  copy(d, v, "currency", "currency");
  copy_date(d, v, "receive_date", "received_on");
  if (auto s = as_text(v, "contribution_status_id:name")) set_string(d, "status", gift_status(*s));
  copy_text(d, v, "campaign_id", "campaign_ref");
  if (auto s = as_text(v, "payment_instrument_id:name")) set_string(d, "channel", gift_channel(*s));
  copy_text(d, v, "contribution_recur_id", "recurring_ref");
  copy(d, v, "financial_type_id:name", "fund");
}

void map_contribution_recur(const JsonValue& v, rapidjson::Document& d) {
  copy_text(d, v, "id", "recurring_ref");
  copy_text(d, v, "contact_id", "donor_ref");
  copy(d, v, "amount", "amount");
  copy(d, v, "currency", "currency");
  set_string(d, "interval", recurring_interval(v));
  if (auto s = as_text(v, "contribution_status_id:name"))
    set_string(d, "status", recurring_status(*s));
  copy_date(d, v, "start_date", "started_on");
  copy_date(d, v, "cancel_date", "cancelled_on");
  copy(d, v, "cancel_reason", "cancel_reason");
}

void map_campaign(const JsonValue& v, rapidjson::Document& d) {
  copy_text(d, v, "id", "campaign_ref");
  if (member(v, "title"))
    copy(d, v, "title", "name");
  else
    copy(d, v, "name", "name");
  copy_date(d, v, "start_date", "starts_on");
  copy_date(d, v, "end_date", "ends_on");
  copy(d, v, "goal_revenue", "goal_amount");
}

}  // namespace

void map_civicrm(CanonicalEvent& event, const JsonValue& body, rapidjson::Document& d) {
  if (!body.IsObject()) throw bad_request("The CiviCRM body must be a JSON object.");
  const JsonValue* entity = member(body, "entity");
  const JsonValue* action = member(body, "action");
  const JsonValue* values = member(body, "values");
  if (!entity || !entity->IsString() || !action || !action->IsString()) {
    throw bad_request("The CiviCRM body needs string `entity` and `action`.");
  }
  if (!values || !values->IsObject())
    throw bad_request("The CiviCRM body needs an object `values`.");
  const std::string e(entity->GetString(), entity->GetStringLength());
  const std::string a(action->GetString(), action->GetStringLength());
  d.SetObject();
  const bool upsert = a == "create" || a == "edit" || a == "update" || a == "save";
  if (e == "Contact" && upsert) {
    event.type = "donor.upserted";
    map_contact(*values, d);
  } else if (e == "Contact" && a == "delete") {
    event.type = "donor.erased";
    copy_text(d, *values, "id", "donor_ref");
  } else if (e == "Contribution" && upsert) {
    event.type = a == "create" ? "gift.created" : "gift.updated";
    map_contribution(*values, d);
  } else if (e == "Contribution" && a == "delete") {
    // A deleted contribution no longer counts: the canonical way to say so is a refund.
    event.type = "gift.refunded";
    copy_text(d, *values, "id", "gift_ref");
  } else if (e == "ContributionRecur" && upsert) {
    event.type = "recurring.upserted";
    map_contribution_recur(*values, d);
  } else if (e == "Campaign" && upsert) {
    event.type = "campaign.upserted";
    map_campaign(*values, d);
  } else {
    event.type = "civicrm." + e.substr(0, 40) + "." + a.substr(0, 20);
    event.reject = "the civicrm adapter does not map " + e.substr(0, 40) + " " + a.substr(0, 20);
    event.errors.push_back({"entity", "is not supported with this action"});
  }
}

void map_civicrm_event(CanonicalEvent& event, const JsonValue& body) {
  rapidjson::Document data;
  map_civicrm(event, body, data);
  if (!event.reject) map_event(event, data);
}

}  // namespace gabe::ingest
