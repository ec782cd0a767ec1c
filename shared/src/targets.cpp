#include "gabe/targets.hpp"

#include <charconv>

#include "gabe/values.hpp"

namespace gabe {

namespace {

[[noreturn]] void bad(std::string_view field, std::string message) {
  throw unprocessable("The target is not valid.", {{std::string(field), std::move(message)}});
}

constexpr const char* kTargetHelp =
    "must be a target name such as give_90d, give_90d_min50 or lapse_180d, or an object "
    "{\"kind\": \"give\"|\"lapse\", \"horizon_days\": 1-730, \"min_amount\": \"0.00\"}";

}  // namespace

std::string Target::name() const {
  std::string n =
      (kind == TargetKind::give ? "give_" : "lapse_") + std::to_string(horizon_days) + "d";
  if (kind == TargetKind::give && min_amount_cents > 0) {
    auto m = format_money(min_amount_cents);
    if (m.size() > 3 && m.compare(m.size() - 3, 3, ".00") == 0) m.resize(m.size() - 3);
    n += "_min" + m;
  }
  return n;
}

std::string Target::to_json() const {
  JsonWriter w;
  w.begin_object().field("name", name());
  w.field("kind", kind == TargetKind::give ? "give" : "lapse");
  w.field("horizon_days", horizon_days);
  if (kind == TargetKind::give) w.field("min_amount", format_money(min_amount_cents));
  w.end_object();
  return w.take();
}

Target parse_target_name(std::string_view name, std::string_view field) {
  Target t;
  std::string_view rest;
  if (name.starts_with("give_")) {
    t.kind = TargetKind::give;
    rest = name.substr(5);
  } else if (name.starts_with("lapse_")) {
    t.kind = TargetKind::lapse;
    rest = name.substr(6);
  } else {
    bad(field, kTargetHelp);
  }
  int h = 0;
  auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), h);
  if (ec != std::errc() || p == rest.data() || p == rest.data() + rest.size() || *p != 'd' ||
      rest.front() == '0')
    bad(field, kTargetHelp);
  rest.remove_prefix(static_cast<std::size_t>(p - rest.data()) + 1);
  if (h < 1 || h > kMaxHorizonDays) bad(field, "horizon_days must be from 1 to 730");
  t.horizon_days = h;
  if (!rest.empty()) {
    if (t.kind != TargetKind::give || !rest.starts_with("_min")) bad(field, kTargetHelp);
    auto cents = parse_money(rest.substr(4));
    if (!cents || *cents <= 0 || *cents > kMaxMoneyCents)
      bad(field, "min_amount must be a positive amount");
    t.min_amount_cents = *cents;
    if (t.name() != name) bad(field, kTargetHelp);  // one spelling per target
  }
  return t;
}

Target parse_target(const JsonValue& value, std::string_view field) {
  if (value.IsString()) {
    return parse_target_name({value.GetString(), value.GetStringLength()}, field);
  }
  if (!value.IsObject()) bad(field, kTargetHelp);
  FieldReader r(value, std::string(field) + ".");
  r.refuse_unknown({"kind", "horizon_days", "min_amount", "name"});
  auto kind = r.one_of("kind", {"give", "lapse"}, true);
  auto h = r.integer("horizon_days", true, 1, kMaxHorizonDays);
  std::optional<std::int64_t> min;
  if (kind && *kind == "give") {
    min = r.money("min_amount", false, false);
    if (min && *min < 0) r.add_error("min_amount", "must not be negative");
  } else if (member(value, "min_amount") != nullptr) {
    r.add_error("min_amount", "applies only to give targets");
  }
  const auto given_name = r.string("name", false, 64);
  r.throw_if_errors("The target is not valid.");
  Target t;
  t.kind = *kind == "give" ? TargetKind::give : TargetKind::lapse;
  t.horizon_days = static_cast<int>(*h);
  t.min_amount_cents = min.value_or(0);
  if (given_name && *given_name != t.name()) {
    bad(std::string(field) + ".name",
        "must be " + t.name() + ", the name of this kind, horizon_days and min_amount");
  }
  return t;
}

std::optional<Target> read_target(FieldReader& r, const JsonValue& object, std::string_view key,
                                  bool required) {
  const JsonValue* value = member(object, key);
  if (value == nullptr) {
    if (required) r.add_error(key, "is required");
    return std::nullopt;
  }
  try {
    return parse_target(*value, key);
  } catch (const Problem& p) {
    for (const auto& e : p.errors()) r.add_error(e.field, e.message);
    return std::nullopt;
  }
}

std::optional<Target> target_of_name(std::string_view name) {
  try {
    return parse_target_name(name);
  } catch (const Problem&) {
    return std::nullopt;
  }
}

}  // namespace gabe
