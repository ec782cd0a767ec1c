#include "civicrm_adapter.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <string_view>
#include <vector>

#include "gabe/berlin.hpp"
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
  if (s == "refunded" || s == "chargeback" || s == "pending refund") return "refunded";
  if (s == "cancelled") return "cancelled";
  return civi;  // validation reports it
}

// civicrm-core's option group `contribution_status` (values 1-11, installed by every site; a
// site can add its own, which only `contribution_status_id:name` can name).
std::optional<std::string> core_contribution_status(const std::string& id) {
  static constexpr const char* kNames[] = {
      "Completed", "Pending",        "Cancelled",      "Failed",     "In Progress", "Overdue",
      "Refunded",  "Partially paid", "Pending refund", "Chargeback", "Template"};
  if (id.empty() || id.size() > 2 || id.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  const int n = std::stoi(id);
  if (n < 1 || n > 11) return std::nullopt;
  return kNames[n - 1];
}

bool is_number(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

std::string gift_channel(const std::string& civi) {
  const std::string s = lower(civi);
  if (s == "credit card" || s == "debit card") return "card";
  if (s == "cash") return "cash";
  if (s == "eft" || s == "bank transfer" || s == "check") return "transfer";
  // CiviSEPA names its instruments by the SEPA sequence type: first, recurring, one-off.
  if (s == "frst" || s == "rcur" || s == "ooff" || s.find("sepa") != std::string::npos ||
      s.find("direct debit") != std::string::npos)
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
  if (unit == "day" && n == 1) return "daily";
  if ((unit == "day" && n == 7) || (unit == "week" && n == 1)) return "weekly";
  if ((unit == "day" && n == 14) || (unit == "week" && n == 2)) return "fortnightly";
  if (unit == "year" && n == 1) return "yearly";
  if (unit == "month" && n == 3) return "quarterly";
  if (unit == "month" && n == 6) return "half_yearly";
  if (unit == "month" && n == 12) return "yearly";
  if (unit == "month" && n == 1) return "monthly";
  return unit + "/" + std::to_string(n);
}

// CiviCRM stores and returns times without an offset, in the site's zone: Europe/Berlin for
// the associations Gabe is for. ICU's zone rules (not hand-written DST rules, and not the
// process-wide TZ variable, which other threads read) give the offset. A time that does not
// exist (the hour skipped in spring) or exists twice (the hour repeated in autumn) is read
// with the offset in force before the change: 02:30 on the spring day is 01:30 UTC, and the
// repeated 02:30 in autumn is the first one, 00:30 UTC.
std::optional<std::string> berlin_instant(std::string_view s) {
  auto digits = [&](std::size_t pos, std::size_t n) -> std::optional<int> {
    if (pos + n > s.size()) return std::nullopt;
    int v = 0;
    for (std::size_t i = pos; i < pos + n; ++i) {
      if (s[i] < '0' || s[i] > '9') return std::nullopt;
      v = v * 10 + (s[i] - '0');
    }
    return v;
  };
  std::optional<int> y, mo, d, h, mi, se;
  if (s.size() == 19 && s[4] == '-' && s[7] == '-' && (s[10] == ' ' || s[10] == 'T') &&
      s[13] == ':' && s[16] == ':') {
    y = digits(0, 4), mo = digits(5, 2), d = digits(8, 2);
    h = digits(11, 2), mi = digits(14, 2), se = digits(17, 2);
  } else if (s.size() == 14) {
    y = digits(0, 4), mo = digits(4, 2), d = digits(6, 2);
    h = digits(8, 2), mi = digits(10, 2), se = digits(12, 2);
  }
  if (!y || !mo || !d || !h || !mi || !se || *h > 23 || *mi > 59 || *se > 59) return std::nullopt;
  char day[24];
  std::snprintf(day, sizeof day, "%04d-%02d-%02d", *y, *mo, *d);
  if (!is_valid_date(day)) return std::nullopt;

  std::tm local{};
  local.tm_year = *y - 1900;
  local.tm_mon = *mo - 1;
  local.tm_mday = *d;
  local.tm_hour = *h;
  local.tm_min = *mi;
  local.tm_sec = *se;
  const std::int64_t wall_seconds = timegm(&local);  // the wall clock read as UTC
  const auto offset_minutes =
      static_cast<int>(berlin::offset_of_wall(wall_seconds, berlin::Reading::former) / 60);
  char out[64];
  std::snprintf(out, sizeof out, "%sT%02d:%02d:%02d%c%02d:%02d", day, *h, *mi, *se,
                offset_minutes < 0 ? '-' : '+', std::abs(offset_minutes) / 60,
                std::abs(offset_minutes) % 60);
  return std::string(out);
}

// The opt-in channels and the flags by which the contact withdraws each (§7 UWG).
struct OptInChannel {
  const char* channel;
  std::vector<const char*> withdrawn_by;
};
const std::vector<OptInChannel>& optin_channels() {
  static const std::vector<OptInChannel> channels = {
      {"email", {"do_not_email", "is_opt_out"}},
      {"phone", {"do_not_phone"}},
      {"sms", {"do_not_sms"}},
  };
  return channels;
}

// What the body says of one flag: true, false, or nothing (not sent).
std::optional<bool> stated(const JsonValue& values, std::string_view key) {
  if (!member(values, key)) return std::nullopt;
  return flag(values, key);
}

// Whether the body says the contact is deceased or trashed. `prefix` is "" for a Contact body
// and "contact_id." for the joined fields of a GroupContact.
bool out_of_reach(const JsonValue& values, const std::string& prefix) {
  return flag(values, prefix + "is_deceased") || flag(values, prefix + "is_deleted");
}

// Whether a channel's withdrawal flags say withdrawn (true), all sent and clear (false), or
// are not all known.
std::optional<bool> withdrawn(const JsonValue& values, const OptInChannel& c,
                              const std::string& prefix) {
  bool all_known = true;
  for (const char* f : c.withdrawn_by) {
    auto v = stated(values, prefix + f);
    if (v && *v) return true;
    all_known = all_known && v.has_value();
  }
  if (all_known) return false;
  return std::nullopt;
}

// The ids of the groups the contact is a member of (status Added), when the body lists them.
// Sets `bad` when `groups` is not an array of ids.
std::optional<std::vector<std::string>> member_groups(const JsonValue& values, bool& bad) {
  const JsonValue* groups = member(values, "groups");
  if (!groups || groups->IsNull()) return std::nullopt;
  std::vector<std::string> out;
  if (!groups->IsArray()) {
    bad = true;
    return std::nullopt;
  }
  for (const auto& g : groups->GetArray()) {
    if (g.IsInt64()) {
      out.push_back(std::to_string(g.GetInt64()));
    } else if (g.IsString() && is_number(g.GetString())) {
      out.emplace_back(g.GetString(), g.GetStringLength());
    } else {
      bad = true;
      return std::nullopt;
    }
  }
  return out;
}

// Consent as German law has it (docs/ingest.md §4, docs/privacy.md). Every channel is stated
// only when the body says enough to know it: nothing known, nothing changed.
void contact_consent(CanonicalEvent& event, const JsonValue& v, const SourceConfig& config,
                     rapidjson::Document& d) {
  auto& a = d.GetAllocator();
  rapidjson::Value consent(rapidjson::kObjectType);
  const bool gone = out_of_reach(v, "");
  // post: legitimate interest (Art. 6(1)(f) DSGVO) unless the contact objected.
  if (auto no_mail = stated(v, "do_not_mail"); gone || (no_mail && *no_mail)) {
    consent.AddMember("post", false, a);
  } else if (no_mail) {
    consent.AddMember("post", true, a);
  }
  bool bad_groups = false;
  const auto groups = member_groups(v, bad_groups);
  if (bad_groups) {
    event.reject = "groups must be an array of CiviCRM group ids";
    event.errors.push_back({"values.groups", "must be an array of group ids"});
    return;
  }
  for (const auto& c : optin_channels()) {
    auto group = config.optin_groups.find(c.channel);
    const auto off = withdrawn(v, c, "");
    std::optional<bool> granted;
    if (group == config.optin_groups.end() || gone || (off && *off)) {
      granted = false;  // no opt-in possible, or withdrawn
    } else if (groups) {
      const bool is_member =
          std::find(groups->begin(), groups->end(), group->second) != groups->end();
      if (!is_member) {
        granted = false;
      } else if (off) {
        granted = true;  // opted in, and every withdrawal flag is known to be clear
      }
    }
    if (granted) consent.AddMember(rapidjson::StringRef(c.channel), *granted, a);
  }
  if (consent.MemberCount() > 0) {
    d.AddMember("consent", consent, a);
    // Consent a CRM reports is no fresh act of the person: it does not lift an erasure.
    set_string(d, "consent_basis", "opt_out_flags");
  }
}

void map_contact(CanonicalEvent& event, const JsonValue& v, const SourceConfig& config,
                 rapidjson::Document& d) {
  copy_text(d, v, "id", "donor_ref");
  for (const char* k : {"first_name", "last_name", "organization_name"}) copy(d, v, k, k);
  // A household's name is its organisation name here (Contact.household_name).
  if (!member(v, "organization_name")) copy(d, v, "household_name", "organization_name");
  copy(d, v, "email_primary.email", "email");
  copy(d, v, "phone_primary.phone", "phone");
  copy(d, v, "address_primary.street_address", "street");
  copy(d, v, "address_primary.postal_code", "postal_code");
  copy(d, v, "address_primary.city", "city");
  copy(d, v, "address_primary.country_id:abbr", "country");
  if (auto lang = as_text(v, "preferred_language")) set_string(d, "language", lang->substr(0, 2));
  contact_consent(event, v, config, d);
  if (auto modified = as_text(v, "modified_date")) {
    // APIv4 returns "YYYY-MM-DD HH:MM:SS" in the site's zone (Europe/Berlin); a value with an
    // offset is taken as it is, anything else is left for validation to name.
    if (auto instant = berlin_instant(*modified)) {
      set_string(d, "updated_at", *instant);
    } else {
      set_string(d, "updated_at", *modified);
    }
  }
}

// A GroupContact body: opt-in evidence for the channel whose group it names, as one
// consent.changed. Membership (status Added) grants only when the body also carries the
// contact's withdrawal flags for that channel (APIv4's implicit join `contact_id.do_not_email`
// and so on) and they are clear; a membership ending (Removed, Pending, a delete) always
// withdraws. A body that says nothing about consent sets event.ignored.
void map_group_contact(CanonicalEvent& event, const JsonValue& v, bool deleted,
                       const SourceConfig& config, rapidjson::Document& d) {
  const auto group = as_text(v, "group_id");
  const OptInChannel* channel = nullptr;
  for (const auto& c : optin_channels()) {
    auto it = config.optin_groups.find(c.channel);
    if (group && it != config.optin_groups.end() && it->second == *group) channel = &c;
  }
  if (!channel) {
    event.ignored = "the group is not an opt-in group of this source";
    return;
  }
  const auto status = as_text(v, "status:name").value_or(as_text(v, "status").value_or(""));
  const bool added = !deleted && lower(status) == "added";
  bool granted = false;
  if (added) {
    const bool gone = out_of_reach(v, "contact_id.");
    const auto off = withdrawn(v, *channel, "contact_id.");
    if (!gone && !off) {
      event.ignored =
          "a membership without the contact's withdrawal flags is no evidence of consent";
      return;
    }
    granted = !gone && !*off;
  }
  event.type = "consent.changed";
  copy_text(d, v, "contact_id", "donor_ref");
  set_string(d, "channel", channel->channel);
  d.AddMember("granted", granted, d.GetAllocator());
  set_string(d, "source", "civicrm group " + *group);
}

// is_test and template contributions (status Template or is_template) are not gifts.
std::optional<std::string> not_a_gift(const JsonValue& v,
                                      const std::optional<std::string>& status) {
  if (flag(v, "is_test")) return "a test contribution is not stored";
  if (flag(v, "is_template") || (status && lower(*status) == "template"))
    return "a template contribution is not stored";
  return std::nullopt;
}

void map_contribution(CanonicalEvent& event, const JsonValue& v, rapidjson::Document& d) {
  std::optional<std::string> status = as_text(v, "contribution_status_id:name");
  if (!status) {
    if (auto id = as_text(v, "contribution_status_id")) {
      status = is_number(*id) ? core_contribution_status(*id) : id;
      if (!status) {
        event.reject = "contribution_status_id " + id->substr(0, 20) +
                       " is not one of CiviCRM's core statuses (1-11)";
        event.errors.push_back({"values.contribution_status_id",
                                "is not a core status id; send contribution_status_id:name"});
        return;
      }
    }
  }
  if (auto why = not_a_gift(v, status)) {
    event.ignored = *why;
    return;
  }
  copy_text(d, v, "id", "gift_ref");
  copy_text(d, v, "contact_id", "donor_ref");
  copy(d, v, "total_amount", "amount");
  copy(d, v, "currency", "currency");
  copy_date(d, v, "receive_date", "received_on");
  if (status) set_string(d, "status", gift_status(*status));
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

void map_civicrm(CanonicalEvent& event, const JsonValue& body, const SourceConfig& config,
                 rapidjson::Document& d) {
  if (!body.IsObject()) throw bad_request("The CiviCRM body must be a JSON object.");
  const JsonValue* entity = member(body, "entity");
  const JsonValue* action = member(body, "action");
  const JsonValue* values = member(body, "values");
  if (!entity || !entity->IsString() || !action || !action->IsString()) {
    throw bad_request("The CiviCRM body needs string `entity` and `action`.");
  }
  if (!values || !values->IsObject())
    throw bad_request("The CiviCRM body needs an object `values`.");
  std::string e(entity->GetString(), entity->GetStringLength());
  const std::string a(action->GetString(), action->GetStringLength());
  // CiviCRM's post hook names a contact by its type.
  if (e == "Individual" || e == "Organization" || e == "Household") e = "Contact";
  d.SetObject();
  const bool upsert = a == "create" || a == "edit" || a == "update" || a == "save";
  if (e == "Contact" && upsert) {
    event.type = "donor.upserted";
    map_contact(event, *values, config, d);
  } else if (e == "Contact" && a == "delete") {
    event.type = "donor.erased";
    copy_text(d, *values, "id", "donor_ref");
  } else if (e == "GroupContact" && (upsert || a == "delete")) {
    map_group_contact(event, *values, a == "delete", config, d);
  } else if (e == "Contribution" && upsert) {
    event.type = a == "create" ? "gift.created" : "gift.updated";
    map_contribution(event, *values, d);
  } else if (e == "Contribution" && a == "delete") {
    // A deleted contribution no longer counts: the canonical way to say so is a refund.
    event.type = "gift.refunded";
    copy_text(d, *values, "id", "gift_ref");
  } else if (e == "ContributionRecur" && upsert) {
    event.type = "recurring.upserted";
    if (flag(*values, "is_test")) {
      event.ignored = "a test recurring contribution is not stored";
      return;
    }
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

void map_civicrm_event(CanonicalEvent& event, const JsonValue& body, const SourceConfig& config) {
  rapidjson::Document data;
  map_civicrm(event, body, config, data);
  if (!event.reject && !event.ignored) map_event(event, data);
}

}  // namespace gabe::ingest
