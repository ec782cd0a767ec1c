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

// The type's name in the catalogues both services answer (GET /v1/features): "text_list" …
constexpr std::string_view feature_type_name(FeatureType type) {
  switch (type) {
    case FeatureType::number:
      return "number";
    case FeatureType::money:
      return "money";
    case FeatureType::date:
      return "date";
    case FeatureType::days:
      return "days";
    case FeatureType::boolean:
      return "boolean";
    case FeatureType::text:
      return "text";
    case FeatureType::text_list:
      return "text_list";
  }
  return "text";
}

struct FeatureInfo {
  std::string_view name;  // snake_case, stable: models, rules and CSVs name it
  FeatureType type;
  std::string_view unit;  // "EUR", "days", "count", "" …
  std::string_view description_en;
  std::string_view description_de;
  bool rule_field;     // usable in segment rules (segments computes it as of today)
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
    FeatureInfo{"language", FeatureType::text, "", "Preferred language", "Bevorzugte Sprache", true,
                false},
    FeatureInfo{"country", FeatureType::text, "", "Country (ISO 3166-1 alpha-2)",
                "Land (ISO 3166-1 Alpha-2)", true, false},
};

// Behavioural model features (scoring), computed from the same history as of the same date D.
// Shares and rates are 0..1; a feature that is undefined for a donor (an interval with fewer
// than two gifts) is missing, which the models handle natively.
inline constexpr std::array kBehaviouralFeatures{
    FeatureInfo{"days_since_first_gift", FeatureType::days, "days",
                "Days since the first gift (tenure)", "Tage seit der ersten Spende (Treue)", false,
                true},
    FeatureInfo{"gift_count_90d", FeatureType::number, "count",
                "Completed gifts in the last 90 days", "Spenden in den letzten 90 Tagen", false,
                true},
    FeatureInfo{"gift_count_prev_365d", FeatureType::number, "count",
                "Completed gifts 365 to 729 days ago (the year before)",
                "Spenden vor 365 bis 729 Tagen (im Vorjahr)", false, true},
    FeatureInfo{"gift_amount_prev_365d", FeatureType::money, "EUR",
                "Sum of gifts 365 to 729 days ago (the year before)",
                "Summe der Spenden vor 365 bis 729 Tagen (im Vorjahr)", false, true},
    FeatureInfo{"mean_gift_amount", FeatureType::money, "EUR", "Average completed gift",
                "Durchschnittliche Spende", false, true},
    FeatureInfo{"mean_interval_days", FeatureType::days, "days",
                "Average days between consecutive gifts",
                "Durchschnittliche Tage zwischen zwei Spenden", false, true},
    FeatureInfo{"interval_regularity", FeatureType::number, "ratio",
                "Spread of the days between gifts relative to their mean (0 = perfectly regular)",
                "Streuung der Abstände zwischen Spenden im Verhältnis zu ihrem Mittel (0 = ganz "
                "regelmäßig)",
                false, true},
    FeatureInfo{"days_overdue", FeatureType::days, "days",
                "Days since the latest gift minus the usual interval",
                "Tage seit der letzten Spende minus der üblichen Pause", false, true},
    FeatureInfo{"december_gift_share", FeatureType::number, "share",
                "Share of gifts given in December", "Anteil der Spenden im Dezember", false, true},
    FeatureInfo{"active_years", FeatureType::number, "count",
                "Calendar years with at least one gift",
                "Kalenderjahre mit mindestens einer Spende", false, true},
    FeatureInfo{"recurring_gift_share", FeatureType::number, "share",
                "Share of gifts that came from a recurring commitment",
                "Anteil der Spenden aus einer Dauerspende", false, true},
    FeatureInfo{"online_gift_share", FeatureType::number, "share", "Share of gifts given online",
                "Anteil der Online-Spenden", false, true},
    FeatureInfo{"campaign_gift_share", FeatureType::number, "share",
                "Share of gifts given in response to a campaign",
                "Anteil der Spenden auf eine Kampagne hin", false, true},
    FeatureInfo{"appeals_365d", FeatureType::number, "count",
                "Appeals received in the last 365 days", "Spendenaufrufe in den letzten 365 Tagen",
                false, true},
    FeatureInfo{"appeal_response_rate_365d", FeatureType::number, "share",
                "Campaign gifts per appeal received in the last 365 days",
                "Kampagnenspenden je Spendenaufruf in den letzten 365 Tagen", false, true},
};

// Never features, never rule fields: protected attributes and their obvious proxies. The
// catalogue (GET /v1/features) lists them as excluded, and a unit test checks that no entry
// above or in the scoring service's feature list carries one of these names.
inline constexpr std::array<std::string_view, 7> kNeverFeatures{
    "gender", "salutation", "first_name", "age", "age_band", "nationality", "postal_code"};

}  // namespace gabe
