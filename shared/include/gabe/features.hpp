// The feature catalogue shared by scoring (model features, GET /v1/features) and segments
// (rule fields). One table, so that a name means the same thing in a model card and in a rule.
//
// Owners: scoring adds behavioural model features; segments evaluates every entry marked
// `rule_field`. A protected attribute or an obvious proxy (gender, salutation, first name,
// age, nationality, postal code) is never an entry: see kNeverFeatures.
#pragma once

#include <array>
#include <span>
#include <string_view>

namespace gabe {

enum class FeatureType { number, money, date, days, boolean, text, text_list };

struct FeatureInfo {
  std::string_view name;            // snake_case, stable: models, rules and CSVs name it
  FeatureType type;
  std::string_view unit;            // "EUR", "days", "count", "" …
  std::string_view description_en;
  std::string_view description_de;
  bool rule_field;   // usable in segment rules (segments computes it as of today)
  bool model_feature;  // an input of the scoring models
};

// The rollups spec/api.md requires, computed from completed gifts as of a date D (today, or a
// run's as-of date); "in the last 365 days" means received on or after D - 364 days.
inline constexpr std::array kRequiredFeatures{
    FeatureInfo{"gift_count", FeatureType::number, "count", "Completed gifts, all time",
                "Abgeschlossene Spenden insgesamt", true, true},
    FeatureInfo{"gift_count_365d", FeatureType::number, "count",
                "Completed gifts in the last 365 days", "Spenden in den letzten 365 Tagen", true,
                true},
    FeatureInfo{"gift_amount_total", FeatureType::money, "EUR", "Sum of completed gifts",
                "Summe aller Spenden", true, true},
    FeatureInfo{"gift_amount_365d", FeatureType::money, "EUR",
                "Sum of completed gifts in the last 365 days",
                "Summe der Spenden in den letzten 365 Tagen", true, true},
    FeatureInfo{"largest_gift", FeatureType::money, "EUR", "Largest completed gift",
                "Größte Spende", true, true},
    FeatureInfo{"last_gift_amount", FeatureType::money, "EUR", "Amount of the latest gift",
                "Betrag der letzten Spende", true, true},
    FeatureInfo{"first_gift_on", FeatureType::date, "", "Date of the first gift",
                "Datum der ersten Spende", true, false},
    FeatureInfo{"last_gift_on", FeatureType::date, "", "Date of the latest gift",
                "Datum der letzten Spende", true, false},
    FeatureInfo{"days_since_last_gift", FeatureType::days, "days", "Days since the latest gift",
                "Tage seit der letzten Spende", true, true},
    FeatureInfo{"recurring_active", FeatureType::boolean, "", "Has an active recurring gift",
                "Hat eine aktive Dauerspende", true, true},
    FeatureInfo{"recurring_monthly_amount", FeatureType::money, "EUR",
                "Active recurring gifts per month", "Aktive Dauerspenden pro Monat", true, true},
    FeatureInfo{"tags", FeatureType::text_list, "", "Tags from the CRM", "Schlagworte aus dem CRM",
                true, false},
    FeatureInfo{"language", FeatureType::text, "", "Preferred language",
                "Bevorzugte Sprache", true, false},
    FeatureInfo{"country", FeatureType::text, "", "Country (ISO 3166-1 alpha-2)",
                "Land (ISO 3166-1 Alpha-2)", true, false},
};

// Never features, never rule fields: protected attributes and their obvious proxies. The
// catalogue (GET /v1/features) lists them as excluded, and a unit test checks that no entry
// above or in the scoring service's feature list carries one of these names.
inline constexpr std::array<std::string_view, 7> kNeverFeatures{
    "gender", "salutation", "first_name", "age", "age_band", "nationality", "postal_code"};

}  // namespace gabe
