#include "rules.hpp"

#include <array>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "gabe/targets.hpp"
#include "gabe/text.hpp"
#include "gabe/values.hpp"

namespace gabe::segments {

namespace {

// Day counts are relative to the day the rollups are as of (one value per statement, an
// InitPlan): the rollups store dates, so a new day does not make every row stale.
constexpr std::string_view kDaysSinceLastGift =
    "((SELECT fs.as_of FROM segments.facts_state fs) - f.last_gift_on)";
constexpr std::string_view kDaysSinceFirstGift =
    "((SELECT fs.as_of FROM segments.facts_state fs) - f.first_gift_on)";

// RFM quintiles from the boundaries segments.ensure_donor_facts() stores (four per ranking,
// ascending, -1 for none): quintile = 1 + the number of boundaries below the value, for donors
// with completed gifts. The boundaries are read once per statement (an InitPlan).
constexpr std::string_view kRfmR =
    "CASE WHEN f.gift_count > 0 THEN 1 + width_bucket((f.last_gift_on - DATE '1900-01-01') - 1, "
    "(SELECT fs.rfm_bounds[1:4] FROM segments.facts_state fs)) END";
constexpr std::string_view kRfmF =
    "CASE WHEN f.gift_count > 0 THEN 1 + width_bucket(f.gift_count::bigint - 1, "
    "(SELECT fs.rfm_bounds[5:8] FROM segments.facts_state fs)) END";
constexpr std::string_view kRfmM =
    "CASE WHEN f.gift_count > 0 THEN 1 + width_bucket(f.gift_amount_total_cents - 1, "
    "(SELECT fs.rfm_bounds[9:12] FROM segments.facts_state fs)) END";

// SQL for every rule field of the shared catalogue, by name. A catalogue entry marked
// rule_field without a row here is reported by is_computable() and fails a unit test.
constexpr std::array kCatalogueSql{
    RuleField{"gift_count", FeatureType::number, "COALESCE(f.gift_count, 0)", ""},
    RuleField{"gift_count_365d", FeatureType::number, "COALESCE(f.gift_count_365d, 0)", ""},
    RuleField{"gift_amount_total", FeatureType::money, "COALESCE(f.gift_amount_total_cents, 0)",
              ""},
    RuleField{"gift_amount_365d", FeatureType::money, "COALESCE(f.gift_amount_365d_cents, 0)", ""},
    RuleField{"largest_gift", FeatureType::money, "f.largest_gift_cents", ""},
    RuleField{"last_gift_amount", FeatureType::money, "f.last_gift_amount_cents", ""},
    RuleField{"first_gift_on", FeatureType::date, "f.first_gift_on", ""},
    RuleField{"last_gift_on", FeatureType::date, "f.last_gift_on", ""},
    RuleField{"days_since_last_gift", FeatureType::days, kDaysSinceLastGift, ""},
    RuleField{"recurring_active", FeatureType::boolean, "COALESCE(f.recurring_active, false)", ""},
    RuleField{"recurring_monthly_amount", FeatureType::money,
              "COALESCE(f.recurring_monthly_cents, 0)", ""},
    RuleField{"tags", FeatureType::text_list, "d.tags", ""},
    RuleField{"language", FeatureType::text, "d.language", ""},
    RuleField{"country", FeatureType::text, "d.country", ""},
};

// The segments service's own rollups, for the built-in RFM and lifecycle segments.
constexpr std::array kSegmentAttributes{
    RuleField{"days_since_first_gift", FeatureType::days, kDaysSinceFirstGift,
              "Days since the first completed gift"},
    RuleField{"rfm_r", FeatureType::number, kRfmR,
              "Recency quintile among donors with gifts: 5 = most recent last gift"},
    RuleField{"rfm_f", FeatureType::number, kRfmF,
              "Frequency quintile (completed gifts, all time): 5 = most gifts"},
    RuleField{"rfm_m", FeatureType::number, kRfmM,
              "Monetary quintile (sum of completed gifts): 5 = highest sum"},
};

constexpr std::array<std::string_view, 4> kChannels{"email", "post", "phone", "sms"};

enum class ValueKind { integer, money, date, boolean, text, score, decile };

struct FieldRef {
  std::string sql;
  FeatureType type = FeatureType::number;
  ValueKind kind = ValueKind::integer;
  bool is_list = false;
};

ValueKind kind_of(FeatureType t) {
  switch (t) {
    case FeatureType::number:
    case FeatureType::days:
      return ValueKind::integer;
    case FeatureType::money:
      return ValueKind::money;
    case FeatureType::date:
      return ValueKind::date;
    case FeatureType::boolean:
      return ValueKind::boolean;
    case FeatureType::text:
    case FeatureType::text_list:
      return ValueKind::text;
  }
  return ValueKind::text;
}

std::string_view cast_of(ValueKind k) {
  switch (k) {
    case ValueKind::integer:
    case ValueKind::money:
      return "bigint";
    case ValueKind::date:
      return "date";
    case ValueKind::boolean:
      return "boolean";
    case ValueKind::text:
      return "text";
    case ValueKind::score:
      return "double precision";
    case ValueKind::decile:
      return "integer";
  }
  return "text";
}

std::string_view value_hint(ValueKind k) {
  switch (k) {
    case ValueKind::integer:
      return "a whole number";
    case ValueKind::money:
      return "an amount such as \"25.00\"";
    case ValueKind::date:
      return "a date YYYY-MM-DD";
    case ValueKind::boolean:
      return "true or false";
    case ValueKind::text:
      return "a text";
    case ValueKind::score:
      return "a number from 0 to 1";
    case ValueKind::decile:
      return "a whole number from 1 to 10";
  }
  return "a value";
}

// The operators each kind of field takes.
std::vector<std::string_view> operators_for(const FieldRef& f) {
  if (f.is_list) return {"contains", "in", "exists"};
  switch (f.kind) {
    case ValueKind::boolean:
      return {"=", "!=", "exists"};
    case ValueKind::text:
      return {"=", "!=", "in", "exists"};
    default:
      return {"=", "!=", "<", "<=", ">", ">=", "in", "between", "exists"};
  }
}

std::string join(const std::vector<std::string_view>& items) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += items[i];
  }
  return out;
}

class Compiler {
 public:
  Compiler(RuleLimits limits, std::string_view values_param)
      : limits_(limits), param_(values_param) {}

  std::string node(const JsonValue& v, const std::string& path, std::size_t depth) {
    if (!v.IsObject()) {
      error(path,
            "must be an object: {\"all\": [...]}, {\"any\": [...]}, {\"not\": ...}, "
            "{\"consent\": ...} or a condition {\"field\", \"op\", \"value\"}");
      return "false";
    }
    if (depth > limits_.max_depth) {
      error(path, "nests deeper than " + std::to_string(limits_.max_depth) + " levels");
      return "false";
    }
    const bool has_field = v.HasMember("field");
    int kinds = 0;
    for (const char* k : {"all", "any", "not", "consent"}) kinds += v.HasMember(k) ? 1 : 0;
    if (kinds + (has_field ? 1 : 0) != 1) {
      error(path, "must have exactly one of all, any, not, consent or field");
      return "false";
    }
    if (v.HasMember("all") || v.HasMember("any")) {
      const bool all = v.HasMember("all");
      const char* key = all ? "all" : "any";
      only_keys(v, path, {key});
      const auto& list = v[key];
      const std::string p = path + "." + key;
      if (!list.IsArray()) {
        error(p, "must be a list of rules");
        return "false";
      }
      if (list.Empty()) return all ? "true" : "false";
      std::string out = "(";
      for (rapidjson::SizeType i = 0; i < list.Size(); ++i) {
        if (i > 0) out += all ? " AND " : " OR ";
        out += node(list[i], p + "[" + std::to_string(i) + "]", depth + 1);
        if (too_many_) break;
      }
      return out + ")";
    }
    if (v.HasMember("not")) {
      only_keys(v, path, {"not"});
      ++negations_;
      auto inner = node(v["not"], path + ".not", depth + 1);
      --negations_;
      return "(NOT " + inner + ")";
    }
    if (v.HasMember("consent")) {
      only_keys(v, path, {"consent"});
      count_condition(path);
      const auto& c = v["consent"];
      const std::string p = path + ".consent";
      if (!c.IsString() || !is_channel(std::string_view(c.GetString(), c.GetStringLength()))) {
        error(p, "must be one of email, post, phone, sms");
        return "false";
      }
      return "EXISTS (SELECT 1 FROM donor.consents c WHERE c.donor_id = d.id AND c.channel = " +
             bind(std::string(c.GetString(), c.GetStringLength()), ValueKind::text) +
             " AND c.granted)";
    }
    return condition(v, path);
  }

  void error(const std::string& path, std::string message) {
    if (errors_.size() < 100) errors_.push_back({path, std::move(message)});
  }
  std::vector<FieldError>& errors() { return errors_; }
  std::vector<std::string>& values() { return values_; }
  std::vector<std::string>& targets() { return targets_; }

 private:
  static bool is_channel(std::string_view s) {
    for (auto c : kChannels)
      if (c == s) return true;
    return false;
  }

  // A key a node does not know is named, as in every request body (FieldReader).
  void only_keys(const JsonValue& v, const std::string& path,
                 std::initializer_list<std::string_view> allowed) {
    FieldReader r(v, path + ".");
    r.refuse_unknown(allowed);
    for (const auto& e : r.errors()) error(e.field, e.message);
  }

  void count_condition(const std::string& path) {
    if (++conditions_ == limits_.max_conditions + 1) {
      error(path,
            "the rule has more than " + std::to_string(limits_.max_conditions) + " conditions");
      too_many_ = true;
    }
  }

  // Adds a value to the bound array and returns its SQL reference.
  std::string bind(std::string value, ValueKind kind) {
    values_.push_back(std::move(value));
    return "((" + std::string(param_) + "::text[])[" + std::to_string(values_.size()) +
           "])::" + std::string(cast_of(kind));
  }

  std::optional<FieldRef> resolve(std::string_view name) {
    for (std::string_view prefix : {"score.", "decile."}) {
      if (name.substr(0, prefix.size()) != prefix) continue;
      // Scores are stored under the target's name as scoring writes it (gabe/targets.hpp).
      const auto target = name.substr(prefix.size());
      if (!target_of_name(target)) return std::nullopt;
      std::size_t slot = 0;
      while (slot < targets_.size() && targets_[slot] != target) ++slot;
      if (slot == targets_.size()) targets_.emplace_back(target);
      const std::string alias = "s" + std::to_string(slot + 1);
      if (prefix == "score.")
        return FieldRef{alias + ".score", FeatureType::number, ValueKind::score};
      return FieldRef{alias + ".decile", FeatureType::number, ValueKind::decile};
    }
    const RuleField* f = find_rule_field(name);
    if (!f) return std::nullopt;
    return FieldRef{std::string(f->sql), f->type, kind_of(f->type),
                    f->type == FeatureType::text_list};
  }

  // One value of `kind` as the text bound for it, or nullopt (with an error at `path`).
  std::optional<std::string> value_text(const JsonValue& v, ValueKind kind,
                                        const std::string& path) {
    auto fail = [&]() -> std::optional<std::string> {
      error(path, "must be " + std::string(value_hint(kind)));
      return std::nullopt;
    };
    switch (kind) {
      case ValueKind::integer:
        if (v.IsInt64()) return std::to_string(v.GetInt64());
        return fail();
      case ValueKind::decile:
        if (v.IsInt64() && v.GetInt64() >= 1 && v.GetInt64() <= 10)
          return std::to_string(v.GetInt64());
        return fail();
      case ValueKind::money: {
        std::optional<std::int64_t> cents;
        if (v.IsString()) cents = parse_money(std::string_view(v.GetString(), v.GetStringLength()));
        if (v.IsNumber()) cents = money_from_double(v.GetDouble());
        if (!cents || std::llabs(*cents) > kMaxMoneyCents) return fail();
        return std::to_string(*cents);
      }
      case ValueKind::date: {
        if (!v.IsString()) return fail();
        std::string s(v.GetString(), v.GetStringLength());
        if (!is_valid_date(s)) return fail();
        return s;
      }
      case ValueKind::boolean:
        if (v.IsBool()) return v.GetBool() ? "true" : "false";
        return fail();
      case ValueKind::score: {
        if (!v.IsNumber()) return fail();
        const double d = v.GetDouble();
        if (!(d >= 0.0 && d <= 1.0)) return fail();
        std::array<char, 64> buf{};
        auto res = std::to_chars(buf.data(), buf.data() + buf.size(), d);
        return std::string(buf.data(), res.ptr);
      }
      case ValueKind::text: {
        if (!v.IsString()) return fail();
        std::string s(v.GetString(), v.GetStringLength());
        if (s.size() > limits_.max_text) {
          error(path, "is longer than " + std::to_string(limits_.max_text) + " bytes");
          return std::nullopt;
        }
        // PostgreSQL text cannot hold NUL.
        if (s.find('\0') != std::string::npos) {
          error(path, "must not contain NUL");
          return std::nullopt;
        }
        return s;
      }
    }
    return fail();
  }

  std::string condition(const JsonValue& v, const std::string& path) {
    count_condition(path);
    only_keys(v, path, {"field", "op", "value"});
    const auto& field = v["field"];
    if (!field.IsString()) {
      error(path + ".field", "must be a field name");
      return "false";
    }
    const std::string_view name(field.GetString(), field.GetStringLength());
    auto ref = resolve(name);
    if (!ref) {
      error(path + ".field", "unknown field '" + std::string(utf8_prefix(name, 80)) +
                                 "' (see GET /v1/segments/fields)");
      return "false";
    }
    const auto* op_value = member(v, "op");
    if (!op_value || !op_value->IsString()) {
      error(path + ".op", "is required: one of " + join(operators_for(*ref)));
      return "false";
    }
    const std::string op(op_value->GetString(), op_value->GetStringLength());
    const auto allowed = operators_for(*ref);
    bool known = false;
    for (auto a : allowed) known = known || a == op;
    if (!known) {
      error(path + ".op", "'" + std::string(utf8_prefix(op, 20)) + "' is not an operator for " +
                              std::string(name) + "; use one of " + join(allowed));
      return "false";
    }
    const JsonValue* value = member(v, "value");
    const std::string vpath = path + ".value";
    const std::string& x = ref->sql;
    const ValueKind kind = ref->kind;
    if (op == "exists") {
      bool want = true;
      if (value) {
        if (!value->IsBool()) {
          error(vpath, "must be true or false (or left out) for exists");
          return "false";
        }
        want = value->GetBool();
      }
      const std::string present =
          ref->is_list ? "(cardinality(" + x + ") > 0)" : "(" + x + " IS NOT NULL)";
      return want ? present : "(NOT " + present + ")";
    }
    if (!value) {
      error(vpath, "is required for " + op);
      return "false";
    }
    if (op == "in") {
      if (!value->IsArray() || value->Empty()) {
        error(vpath, "must be a non-empty list for in");
        return "false";
      }
      if (value->Size() > limits_.max_list) {
        error(vpath, "has more than " + std::to_string(limits_.max_list) + " values");
        return "false";
      }
      std::string list = "ARRAY[";
      bool ok = true;
      for (rapidjson::SizeType i = 0; i < value->Size(); ++i) {
        auto t = value_text((*value)[i], kind, vpath + "[" + std::to_string(i) + "]");
        if (!t) {
          ok = false;
          continue;
        }
        if (i > 0) list += ", ";
        list += bind(std::move(*t), kind);
      }
      if (!ok) return "false";
      list += "]";
      if (ref->is_list) return "(" + x + " && " + list + ")";
      return comparison(x + " = ANY(" + list + ")");
    }
    if (op == "between") {
      if (!value->IsArray() || value->Size() != 2) {
        error(vpath, "must be [low, high] for between");
        return "false";
      }
      auto lo = value_text((*value)[0], kind, vpath + "[0]");
      auto hi = value_text((*value)[1], kind, vpath + "[1]");
      if (!lo || !hi) return "false";
      if (out_of_order(*lo, *hi, kind)) {
        error(vpath, "low must not be above high");
        return "false";
      }
      auto l = bind(std::move(*lo), kind);
      auto h = bind(std::move(*hi), kind);
      return comparison(x + " BETWEEN " + l + " AND " + h);
    }
    auto t = value_text(*value, kind, vpath);
    if (!t) return "false";
    const std::string b = bind(std::move(*t), kind);
    if (op == "contains") return "(" + x + " @> ARRAY[" + b + "])";
    const std::string sql_op = op == "!=" ? "<>" : op;
    return comparison(x + " " + sql_op + " " + b);
  }

  // A comparison with a missing value is false. Under a `not`, NULL must become false first
  // (NOT NULL is NULL: the donor would be in neither the rule nor its negation). Outside any
  // `not`, the plain comparison filters exactly the same donors (AND and OR of NULL and false
  // never give true, and WHERE keeps only true), and it lets PostgreSQL see that a condition on
  // the rollups or a score cannot hold for a donor without them: the LEFT JOIN becomes an inner
  // join, filtered before it is joined, instead of every donor joined with every rollup.
  std::string comparison(const std::string& expr) const {
    return negations_ == 0 ? "(" + expr + ")" : "COALESCE(" + expr + ", false)";
  }

  static bool out_of_order(const std::string& lo, const std::string& hi, ValueKind kind) {
    switch (kind) {
      case ValueKind::integer:
      case ValueKind::money:
      case ValueKind::decile:
        return std::stoll(lo) > std::stoll(hi);
      case ValueKind::score:
        return std::stod(lo) > std::stod(hi);
      case ValueKind::date:
        return lo > hi;  // YYYY-MM-DD sorts as text
      default:
        return false;
    }
  }

  RuleLimits limits_;
  std::string_view param_;
  std::vector<FieldError> errors_;
  std::vector<std::string> values_;
  std::vector<std::string> targets_;
  std::size_t conditions_ = 0;
  bool too_many_ = false;
  int negations_ = 0;  // how many `not`s the node being compiled is under
};

}  // namespace

const RuleField* find_rule_field(std::string_view name) {
  for (const auto& f : kCatalogueSql) {
    if (f.name != name) continue;
    // Only what the shared catalogue marks as a rule field is one.
    for (const auto& c : kRequiredFeatures)
      if (c.name == name && c.rule_field) return &f;
    return nullptr;
  }
  for (const auto& f : kSegmentAttributes)
    if (f.name == name) return &f;
  return nullptr;
}

std::span<const RuleField> segment_attributes() {
  return kSegmentAttributes;
}

bool is_computable(std::string_view catalogue_name) {
  for (const auto& f : kCatalogueSql)
    if (f.name == catalogue_name) return true;
  return false;
}

CompiledRule compile_rule(const JsonValue& rule, RuleLimits limits, std::string_view values_param) {
  Compiler c(limits, values_param);
  CompiledRule out;
  out.predicate = c.node(rule, "rule", 1);
  if (!c.errors().empty()) throw unprocessable("The rule is not valid.", std::move(c.errors()));
  out.values = std::move(c.values());
  out.score_targets = std::move(c.targets());
  return out;
}

std::string member_query(const CompiledRule& rule, std::string_view values_param) {
  std::string sql =
      "SELECT d.id AS donor_id FROM donor.donors d "
      "LEFT JOIN segments.donor_facts f ON f.donor_id = d.id";
  // The targets follow the rule's values in the bound array.
  for (std::size_t i = 0; i < rule.score_targets.size(); ++i) {
    const auto alias = "s" + std::to_string(i + 1);
    sql.append(" LEFT JOIN scoring.current_scores ").append(alias).append(" ON ");
    sql.append(alias).append(".donor_id = d.id AND ").append(alias).append(".target = ((");
    sql.append(values_param).append("::text[])[");
    sql.append(std::to_string(rule.values.size() + i + 1)).append("])");
  }
  // The array is named even when the rule binds nothing, so that its type is always known.
  sql += " WHERE (" + std::string(values_param) +
         "::text[]) IS NOT NULL AND d.erased_at IS NULL AND d.merged_into IS NULL AND NOT "
         "d.is_placeholder AND " +
         rule.predicate;
  return sql;
}

}  // namespace gabe::segments
