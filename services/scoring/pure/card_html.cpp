#include "gabe/card_html.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "gabe/features.hpp"

namespace gabe {
namespace {

using rapidjson::Value;

constexpr const char* kMissing = "—";

// Every fixed text of the page in both languages.
struct Texts {
  const char* lang;
  const char* title;
  const char* overview;
  const char* target;
  const char* kind;
  const char* horizon_days;
  const char* min_amount;
  const char* as_of;
  const char* status;
  const char* created_by;
  const char* created_at;
  const char* finished_at;
  const char* model_sha256;
  const char* metrics;
  const char* metric;
  const char* model;
  const char* rfm_baseline;
  const char* meaning;
  const char* auc_help;
  const char* pr_auc_help;
  const char* logloss_help;
  const char* brier_help;
  const char* lift_help;
  const char* base_rate_help;
  const char* base_rate;
  const char* top_decile_lift;
  const char* calibration;
  const char* calibration_desc;
  const char* predicted;
  const char* observed;
  const char* decile;
  const char* count;
  const char* importance;
  const char* importance_desc;
  const char* feature;
  const char* mean_abs_shap;
  const char* distribution;
  const char* distribution_desc;
  const char* score_range;
  const char* donors;
  const char* no_data;
  const char* windows;
  const char* training;
  const char* validation;
  const char* cutoff;
  const char* label_end;
  const char* examples;
  const char* positives;
  const char* sizes;
  const char* params;
  const char* parameter;
  const char* value;
  const char* activation;
  const char* activated_at;
  const char* activated_by;
  const char* reason;
  const char* fairness_override;
  const char* not_activated;
  const char* fairness;
  const char* fairness_intro;
  const char* four_fifths_rule;
  const char* pass;
  const char* fail;
  const char* not_judged;
  const char* no_fairness;
  const char* attribute;
  const char* group;
  const char* selected;
  const char* selection_rate;
  const char* tpr;
  const char* four_fifths_ratio;
  const char* eod;
  const char* missing_group;
  const char* too_small;
  const char* override_used;
  const char* features;
  const char* features_used;
  const char* excluded;
  const char* excluded_intro;
  const char* yes;
  const char* no;
  const char* chart_data;
  const char* error;
  const char* retired_at;
  const char* trees;
  const char* best_iteration;
  const char* training_rows_used;
  // training, ready, failed, active, retired
  std::array<const char*, 5> statuses;
  const char* note;
};

constexpr std::array<const char*, 5> kStatusCodes{"training", "ready", "failed", "active",
                                                  "retired"};

constexpr Texts kGerman{
    "de",
    "Modellkarte",
    "Überblick",
    "Zielgröße",
    "Art",
    "Horizont (Tage)",
    "Mindestbetrag",
    "Stichtag (as of)",
    "Status",
    "Trainiert von",
    "Gestartet",
    "Fertig",
    "Modell-Prüfsumme (SHA-256)",
    "Kennzahlen",
    "Kennzahl",
    "Modell",
    "RFM-Ranking (Vergleich)",
    "Bedeutung",
    "Wie gut das Modell Gebende vor Nicht-Gebende reiht: 0,5 ist Zufall, 1 perfekt.",
    "Fläche unter der Precision-Recall-Kurve; aussagekräftig bei seltenen Ereignissen.",
    "Mittlerer logarithmischer Verlust der Wahrscheinlichkeiten; kleiner ist besser.",
    "Mittlerer quadratischer Fehler der Wahrscheinlichkeiten; kleiner ist besser.",
    "Wie viel häufiger das Ereignis im obersten Zehntel eintritt als im Durchschnitt.",
    "Anteil der Beispiele mit Ereignis im Validierungsfenster.",
    "Grundrate",
    "Lift im obersten Dezil",
    "Kalibrierung nach Dezil",
    "Vorhergesagte mittlere Wahrscheinlichkeit und beobachtete Rate je Dezil (1 = höchste "
    "Scores) im Validierungsfenster. Liegen beide nah beieinander, sind die Scores als "
    "Wahrscheinlichkeiten lesbar.",
    "vorhergesagt",
    "beobachtet",
    "Dezil",
    "Anzahl",
    "Globale Wichtigkeit der Merkmale",
    "Mittlerer Betrag des exakten SHAP-Beitrags je Merkmal (Log-Odds) im Validierungsfenster.",
    "Merkmal",
    "mittlerer |SHAP|",
    "Verteilung der Scores",
    "Anzahl der Beispiele je Score-Bereich im Validierungsfenster.",
    "Score-Bereich",
    "Anzahl",
    "Keine Daten.",
    "Zeitfenster und Umfang",
    "Training",
    "Validierung",
    "Stichtag",
    "Ende des Zielfensters",
    "Beispiele",
    "davon mit Ereignis",
    "Umfang",
    "Parameter",
    "Parameter",
    "Wert",
    "Freigabe",
    "Freigegeben am",
    "Freigegeben von",
    "Begründung",
    "Fairness-Ausnahme genutzt",
    "Dieses Modell wurde nicht freigegeben.",
    "Fairness",
    "Auswahl = Scores in den obersten Dezilen. Gruppen mit zu wenigen Personen werden "
    "gezeigt, aber nicht beurteilt. Die Audit-Merkmale sind nie Eingaben des Modells.",
    "Vier-Fünftel-Regel",
    "✔ bestanden",
    "✘ nicht bestanden",
    "– nicht beurteilt",
    "Kein Fairness-Bericht: im Validierungsfenster hat niemand Audit-Merkmale.",
    "Audit-Merkmal",
    "Gruppe",
    "Ausgewählt",
    "Auswahlrate",
    "Richtig-positiv-Rate",
    "Vier-Fünftel-Quotient (kleinste / größte Auswahlrate)",
    "Chancengleichheits-Differenz (größte − kleinste Richtig-positiv-Rate)",
    "Ohne Gruppe (keine Angabe)",
    "zu klein, nicht beurteilt",
    "Freigegeben trotz nicht bestandener Vier-Fünftel-Regel (ausdrückliche Ausnahme).",
    "Merkmale",
    "Verwendete Merkmale",
    "Ausgeschlossene geschützte Merkmale",
    "Diese Angaben und ihre offensichtlichen Stellvertreter sind nie Merkmale eines Modells:",
    "ja",
    "nein",
    "Daten der Grafik",
    "Fehler",
    "Außer Dienst seit",
    "Bäume",
    "Beste Runde (Early Stopping)",
    "Genutzte Trainingszeilen (Stichprobe)",
    {"im Training", "bereit", "fehlgeschlagen", "aktiv", "außer Dienst"},
    "Hinweis",
};

constexpr Texts kEnglish{
    "en",
    "Model card",
    "Overview",
    "Target",
    "Kind",
    "Horizon (days)",
    "Minimum amount",
    "As of",
    "Status",
    "Trained by",
    "Started",
    "Finished",
    "Model checksum (SHA-256)",
    "Metrics",
    "Metric",
    "Model",
    "RFM ranking (baseline)",
    "Meaning",
    "How well the model ranks givers above non-givers: 0.5 is chance, 1 is perfect.",
    "Area under the precision-recall curve; telling for rare events.",
    "Mean logarithmic loss of the probabilities; lower is better.",
    "Mean squared error of the probabilities; lower is better.",
    "How much more often the event happens in the top tenth than on average.",
    "Share of examples with the event in the validation window.",
    "Base rate",
    "Top-decile lift",
    "Calibration by decile",
    "Predicted mean probability and observed rate per decile (1 = highest scores) in the "
    "validation window. When both are close, the scores read as probabilities.",
    "predicted",
    "observed",
    "Decile",
    "Count",
    "Global feature importance",
    "Mean absolute exact SHAP contribution per feature (log-odds) in the validation window.",
    "Feature",
    "mean |SHAP|",
    "Score distribution",
    "Number of examples per score range in the validation window.",
    "Score range",
    "Count",
    "No data.",
    "Windows and sizes",
    "Training",
    "Validation",
    "Cut-off",
    "End of label window",
    "Examples",
    "with the event",
    "Sizes",
    "Parameters",
    "Parameter",
    "Value",
    "Activation",
    "Activated at",
    "Activated by",
    "Reason",
    "Fairness override used",
    "This model has not been activated.",
    "Fairness",
    "Selected = scores in the top deciles. Groups with too few people are shown but not "
    "judged. The audit attributes are never inputs of the model.",
    "Four-fifths rule",
    "✔ passed",
    "✘ failed",
    "– not judged",
    "No fairness report: nobody in the validation window has audit attributes.",
    "Audit attribute",
    "Group",
    "Selected",
    "Selection rate",
    "True positive rate",
    "Four-fifths ratio (lowest / highest selection rate)",
    "Equal-opportunity difference (highest − lowest true positive rate)",
    "Without a group (not given)",
    "too small, not judged",
    "Activated although the four-fifths rule failed (explicit override).",
    "Features",
    "Features used",
    "Protected attributes left out",
    "These attributes and their obvious proxies are never features of a model:",
    "yes",
    "no",
    "Chart data",
    "Error",
    "Retired at",
    "Trees",
    "Best iteration (early stopping)",
    "Training rows used (sample)",
    {"training", "ready", "failed", "active", "retired"},
    "Note",
};

const Value* get(const Value* v, std::initializer_list<const char*> path) {
  for (const char* key : path) {
    if (v == nullptr || !v->IsObject()) return nullptr;
    const auto it = v->FindMember(key);
    if (it == v->MemberEnd() || it->value.IsNull()) return nullptr;
    v = &it->value;
  }
  return v;
}

std::optional<double> number(const Value* v) {
  if (v == nullptr || !v->IsNumber()) return std::nullopt;
  const double d = v->GetDouble();
  if (!std::isfinite(d)) return std::nullopt;
  return d;
}

std::string json_text(const Value& v) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  v.Accept(writer);
  return std::string(buffer.GetString(), buffer.GetSize());
}

class Page {
 public:
  Page(const Value& card, const Texts& t) : card_(card), t_(t) {}

  std::string render();

 private:
  bool german() const { return &t_ == &kGerman; }
  // Numbers as the reader's language writes them: 0,81 and 41.230 in German.
  std::string decimal(double d, int places) const {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.*f", places, d);
    std::string s(buffer);
    if (german()) std::replace(s.begin(), s.end(), '.', ',');
    return s;
  }
  std::string integer(double d) const {
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%.0f", std::fabs(d));
    std::string digits(buffer), out;
    const char separator = german() ? '.' : ',';
    for (std::size_t i = 0; i < digits.size(); ++i) {
      if (i > 0 && (digits.size() - i) % 3 == 0) out += separator;
      out += digits[i];
    }
    return (d < 0 ? "−" : "") + out;
  }
  // Any value of the card as escaped text: strings, numbers, booleans; "—" for the rest.
  std::string show(const Value* v, int places = -1) const {
    if (v == nullptr) return kMissing;
    if (v->IsString()) {
      const std::string s(v->GetString(), v->GetStringLength());
      return s.empty() ? kMissing : html_escape(s);
    }
    if (v->IsBool()) return v->GetBool() ? t_.yes : t_.no;
    if (v->IsInt64() || v->IsUint64()) return integer(v->GetDouble());
    if (const auto d = number(v)) return places >= 0 ? decimal(*d, places) : decimal(*d, 4);
    if (v->IsArray() || v->IsObject()) return html_escape(json_text(*v));
    return kMissing;
  }
  std::string show(std::initializer_list<const char*> path, int places = -1) const {
    return show(get(&card_, path), places);
  }
  // The model's status in the reader's language.
  std::string status() const {
    const Value* v = get(&card_, {"status"});
    if (v != nullptr && v->IsString())
      for (std::size_t i = 0; i < kStatusCodes.size(); ++i)
        if (std::string_view(v->GetString(), v->GetStringLength()) == kStatusCodes[i])
          return t_.statuses[i];
    return show(v);
  }
  void row(const char* label, const std::string& value) {
    out_ += "<tr><th scope=\"row\">";
    out_ += label;
    out_ += "</th><td>" + value + "</td></tr>\n";
  }
  // A table with a header row of these column headings; its body follows.
  void table_head(std::initializer_list<const char*> columns) {
    out_ += "<table>\n<thead><tr>";
    for (const char* c : columns) {
      out_ += "<th scope=\"col\">";
      out_ += c;
      out_ += "</th>";
    }
    out_ += "</tr></thead>\n<tbody>\n";
  }
  void section_start(const char* id, const char* heading) {
    out_ += "<section aria-labelledby=\"" + std::string(id) + "\"><h2 id=\"" + id + "\">" +
            heading + "</h2>\n";
  }

  void header();
  void overview();
  void metrics();
  void calibration();
  void importance();
  void distribution();
  void windows();
  void params();
  void activation();
  void fairness();
  void features();

  const Value& card_;
  const Texts& t_;
  std::string out_;
};

constexpr const char* kStyle = R"(
:root{color-scheme:light;--ink:#1b1f24;--muted:#4a5360;--line:#c9ced6;--model:#1f5fa8;--obs:#b3541e;--pass:#1d6b35;--fail:#a11d1d}
*{box-sizing:border-box}
body{margin:0;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--ink);background:#fff}
main{max-width:60rem;margin:0 auto;padding:1.5rem}
h1{font-size:1.7rem;margin:0 0 .25rem}
h2{font-size:1.3rem;margin:2rem 0 .5rem;border-bottom:2px solid var(--line);padding-bottom:.2rem}
h3{font-size:1.1rem;margin:1.2rem 0 .4rem}
p.lead{color:var(--muted);margin:0 0 1rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem}
th,td{border:1px solid var(--line);padding:.3rem .5rem;text-align:left;vertical-align:top}
thead th{background:#eef1f5}
th[scope=row]{background:#f6f7f9;font-weight:600;width:40%}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:.1rem .6rem;border-radius:1rem;font-weight:700;border:2px solid currentColor}
.pass{color:var(--pass)}
.fail{color:var(--fail)}
.muted{color:var(--muted)}
.verdict{font-size:1.2rem;margin:.5rem 0}
figure{margin:1rem 0}
figcaption{color:var(--muted);font-size:.95rem}
svg{max-width:100%;height:auto;display:block}
details{margin:.25rem 0 1rem}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;word-break:break-all}
ul.features{columns:2}
@media print{main{max-width:none}details{display:none}}
)";

std::string Page::render() {
  out_ += "<!DOCTYPE html>\n<html lang=\"";
  out_ += t_.lang;
  out_ += "\">\n<head>\n<meta charset=\"utf-8\">\n";
  out_ += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
  out_ += "<title>";
  out_ += t_.title;
  out_ += " " + show({"model_id"}) + " – " + show({"target", "name"}) + "</title>\n<style>";
  out_ += kStyle;
  out_ += "</style>\n</head>\n<body>\n<main>\n";
  header();
  overview();
  metrics();
  calibration();
  importance();
  distribution();
  windows();
  params();
  activation();
  fairness();
  features();
  out_ += "</main>\n</body>\n</html>\n";
  return std::move(out_);
}

void Page::header() {
  out_ += "<h1>";
  out_ += t_.title;
  out_ += " " + show({"model_id"}) + ": " + show({"target", "name"}) + "</h1>\n";
  out_ += "<p class=\"lead\">" + std::string(t_.status) + ": <strong>" + status() + "</strong> · " +
          t_.as_of + ": " + show({"as_of"}) + " · " + t_.four_fifths_rule + ": ";
  const Value* passes = get(&card_, {"fairness", "passes_four_fifths"});
  if (passes != nullptr && passes->IsBool())
    out_ += passes->GetBool() ? "<span class=\"pass\">" + std::string(t_.pass) + "</span>"
                              : "<span class=\"fail\">" + std::string(t_.fail) + "</span>";
  else
    out_ += t_.not_judged;
  out_ += "</p>\n";
}

void Page::overview() {
  section_start("overview", t_.overview);
  out_ += "<table>\n";
  const Value* target = get(&card_, {"target"});
  row(t_.target, target != nullptr && target->IsString() ? show(target) : show({"target", "name"}));
  row(t_.kind, show({"target", "kind"}));
  row(t_.horizon_days, show({"target", "horizon_days"}));
  row(t_.min_amount, show({"target", "min_amount"}));
  row(t_.as_of, show({"as_of"}));
  row(t_.status, status());
  if (get(&card_, {"error"}) != nullptr) row(t_.error, show({"error"}));
  row(t_.created_by, show({"created_by"}));
  row(t_.created_at, show({"created_at"}));
  row(t_.finished_at, show({"finished_at"}));
  if (get(&card_, {"retired_at"}) != nullptr) row(t_.retired_at, show({"retired_at"}));
  row(t_.model_sha256, "<code>" + show({"model_sha256"}) + "</code>");
  out_ += "</table>\n</section>\n";
}

void Page::metrics() {
  section_start("metrics", t_.metrics);
  table_head({t_.metric, t_.model, t_.rfm_baseline, t_.meaning});
  struct Metric {
    const char* key;
    const char* label;
    const char* help;
    const char* baseline_key;
  };
  const Metric rows[] = {
      {"auc", "AUC (ROC)", t_.auc_help, "rfm_baseline_auc"},
      {"pr_auc", "PR-AUC", t_.pr_auc_help, nullptr},
      {"logloss", "Log-Loss", t_.logloss_help, nullptr},
      {"brier", "Brier", t_.brier_help, nullptr},
      {"top_decile_lift", t_.top_decile_lift, t_.lift_help, nullptr},
      {"base_rate", t_.base_rate, t_.base_rate_help, nullptr},
  };
  for (const Metric& m : rows) {
    auto metric = [&](const char* key) {
      const auto v = number(get(&card_, {"metrics", key}));
      return v ? decimal(*v, 4) : std::string(kMissing);
    };
    out_ += "<tr><th scope=\"row\">" + std::string(m.label) + "</th><td class=\"num\">" +
            metric(m.key) + "</td><td class=\"num\">" +
            (m.baseline_key != nullptr ? metric(m.baseline_key) : "") + "</td><td>" + m.help +
            "</td></tr>\n";
  }
  out_ += "</tbody></table>\n</section>\n";
}

// Axes and gridlines of a chart with a value axis from 0 to `top` (at y0 .. y1 pixels).
std::string y_grid(double top, double x0, double x1, double y0, double y1,
                   const std::function<std::string(double)>& label) {
  std::string s;
  char buffer[256];
  for (int i = 0; i <= 4; ++i) {
    const double v = top * i / 4.0;
    const double y = y0 - (y0 - y1) * i / 4.0;
    std::snprintf(buffer, sizeof buffer,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#c9ced6\"/>"
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"end\" "
                  "fill=\"#4a5360\">",
                  x0, y, x1, y, x0 - 6, y + 4);
    s += buffer + label(v) + "</text>\n";
  }
  return s;
}

// A value axis top that is a round number above `max`.
double nice_top(double max) {
  if (!(max > 0)) return 1.0;
  const double magnitude = std::pow(10.0, std::floor(std::log10(max)));
  for (double step : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (step * magnitude >= max) return step * magnitude;
  return 10.0 * magnitude;
}

std::string svg_open(const char* id, const char* title, const char* desc, int width, int height) {
  char buffer[256];
  std::snprintf(buffer, sizeof buffer,
                "<svg id=\"%s\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                "width=\"%d\" height=\"%d\" role=\"img\" aria-labelledby=\"%s-title %s-desc\">",
                id, width, height, width, height, id, id);
  return std::string(buffer) + "<title id=\"" + id + "-title\">" + title + "</title><desc id=\"" +
         id + "-desc\">" + desc + "</desc>\n";
}

void Page::calibration() {
  section_start("calibration", t_.calibration);
  struct Point {
    std::string decile;
    std::optional<double> predicted, observed, count;
  };
  std::vector<Point> points;
  if (const Value* rows = get(&card_, {"metrics", "calibration"}); rows && rows->IsArray())
    for (const Value& r : rows->GetArray())
      points.push_back({show(get(&r, {"decile"})), number(get(&r, {"mean_score"})),
                        number(get(&r, {"observed_rate"})), number(get(&r, {"count"}))});
  if (points.empty()) {
    out_ += "<p>" + std::string(t_.no_data) + "</p>\n</section>\n";
    return;
  }
  double max = 0;
  for (const Point& p : points)
    max = std::max({max, p.predicted.value_or(0), p.observed.value_or(0)});
  const double top = std::min(1.0, nice_top(max));
  const double x0 = 60, x1 = 620, y0 = 260, y1 = 20;
  const double slot = (x1 - x0) / static_cast<double>(points.size());
  out_ +=
      "<figure>\n" + svg_open("chart-calibration", t_.calibration, t_.calibration_desc, 640, 320);
  out_ += y_grid(top, x0, x1, y0, y1, [&](double v) { return decimal(v, 2); });
  char buffer[512];
  std::string predicted_line, observed_line;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const Point& p = points[i];
    const double cx = x0 + slot * (static_cast<double>(i) + 0.5);
    const double bar = std::min(slot * 0.35, 24.0);
    // Two bars per decile: predicted (solid blue) and observed (hatched orange), so the series
    // differ in more than colour.
    if (p.predicted) {
      const double h = (y0 - y1) * std::min(*p.predicted, top) / top;
      std::snprintf(buffer, sizeof buffer,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#1f5fa8\">"
                    "<title>",
                    cx - bar - 1, y0 - h, bar, h);
      out_ += buffer + std::string(t_.decile) + " " + p.decile + ", " + t_.predicted + ": " +
              decimal(*p.predicted, 3) + "</title></rect>\n";
    }
    if (p.observed) {
      const double h = (y0 - y1) * std::min(*p.observed, top) / top;
      std::snprintf(buffer, sizeof buffer,
                    "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                    "fill=\"url(#hatch)\" stroke=\"#b3541e\"><title>",
                    cx + 1, y0 - h, bar, h);
      out_ += buffer + std::string(t_.decile) + " " + p.decile + ", " + t_.observed + ": " +
              decimal(*p.observed, 3) + "</title></rect>\n";
    }
    std::snprintf(buffer, sizeof buffer,
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
                  "fill=\"#1b1f24\">",
                  cx, y0 + 16);
    out_ += buffer + p.decile + "</text>\n";
  }
  std::snprintf(buffer, sizeof buffer,
                "<defs><pattern id=\"hatch\" width=\"6\" height=\"6\" "
                "patternUnits=\"userSpaceOnUse\" patternTransform=\"rotate(45)\">"
                "<rect width=\"6\" height=\"6\" fill=\"#f3d9c9\"/>"
                "<line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#b3541e\" stroke-width=\"3\"/>"
                "</pattern></defs>"
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#1b1f24\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\" "
                "fill=\"#1b1f24\">",
                x0, y0, x1, y0, (x0 + x1) / 2, y0 + 36);
  out_ += buffer + std::string(t_.decile) + "</text>\n";
  std::snprintf(buffer, sizeof buffer,
                "<rect x=\"%.1f\" y=\"300\" width=\"14\" height=\"14\" fill=\"#1f5fa8\"/>"
                "<text x=\"%.1f\" y=\"312\" font-size=\"13\" fill=\"#1b1f24\">",
                x0, x0 + 20);
  out_ += buffer + std::string(t_.predicted) + "</text>";
  std::snprintf(buffer, sizeof buffer,
                "<rect x=\"%.1f\" y=\"300\" width=\"14\" height=\"14\" fill=\"url(#hatch)\" "
                "stroke=\"#b3541e\"/><text x=\"%.1f\" y=\"312\" font-size=\"13\" "
                "fill=\"#1b1f24\">",
                x0 + 160, x0 + 180);
  out_ += buffer + std::string(t_.observed) + "</text>\n</svg>\n";
  out_ += "<figcaption>" + std::string(t_.calibration_desc) + "</figcaption>\n</figure>\n";
  out_ += "<details><summary>" + std::string(t_.chart_data) + "</summary>\n";
  table_head({t_.decile, t_.count, t_.predicted, t_.observed});
  auto cell = [&](const std::optional<double>& v, int places) {
    return "<td class=\"num\">" + (v ? decimal(*v, places) : std::string(kMissing)) + "</td>";
  };
  for (const Point& p : points)
    out_ += "<tr><td>" + p.decile + "</td><td class=\"num\">" +
            (p.count ? integer(*p.count) : std::string(kMissing)) + "</td>" + cell(p.predicted, 3) +
            cell(p.observed, 3) + "</tr>\n";
  out_ += "</tbody></table></details>\n</section>\n";
}

void Page::importance() {
  section_start("importance", t_.importance);
  std::vector<std::pair<std::string, double>> bars;
  if (const Value* rows = get(&card_, {"importance"}); rows && rows->IsArray())
    for (const Value& r : rows->GetArray())
      if (const auto v = number(get(&r, {"mean_abs_shap"})); v && *v >= 0)
        bars.emplace_back(show(get(&r, {"feature"})), *v);
  if (bars.empty()) {
    out_ += "<p>" + std::string(t_.no_data) + "</p>\n</section>\n";
    return;
  }
  std::stable_sort(bars.begin(), bars.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  if (bars.size() > 25) bars.resize(25);
  const double top = nice_top(bars.front().second);
  const double x0 = 230, x1 = 600, row_height = 24, y_start = 10;
  const int height = static_cast<int>(y_start + row_height * static_cast<double>(bars.size()) + 40);
  out_ +=
      "<figure>\n" + svg_open("chart-importance", t_.importance, t_.importance_desc, 640, height);
  char buffer[512];
  for (std::size_t i = 0; i < bars.size(); ++i) {
    const double y = y_start + row_height * static_cast<double>(i);
    const double w = std::max(1.0, (x1 - x0) * bars[i].second / top);
    std::snprintf(buffer, sizeof buffer,
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"end\" "
                  "fill=\"#1b1f24\">",
                  x0 - 8, y + 15);
    out_ += buffer + bars[i].first + "</text>";
    std::snprintf(buffer, sizeof buffer,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#1f5fa8\">"
                  "<title>",
                  x0, y + 3, w, row_height - 6);
    out_ += buffer + bars[i].first + ": " + decimal(bars[i].second, 4) + "</title></rect>";
    std::snprintf(buffer, sizeof buffer,
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#1b1f24\">", x0 + w + 4,
                  y + 15);
    out_ += buffer + decimal(bars[i].second, 3) + "</text>\n";
  }
  const double axis_y = y_start + row_height * static_cast<double>(bars.size()) + 4;
  std::snprintf(buffer, sizeof buffer,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#1b1f24\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\" "
                "fill=\"#1b1f24\">",
                x0, axis_y, x1, axis_y, (x0 + x1) / 2, axis_y + 24);
  out_ += buffer + std::string(t_.mean_abs_shap) + "</text>\n</svg>\n";
  out_ += "<figcaption>" + std::string(t_.importance_desc) + "</figcaption>\n</figure>\n";
  out_ += "<details><summary>" + std::string(t_.chart_data) + "</summary>\n";
  table_head({t_.feature, t_.mean_abs_shap});
  for (const auto& [name, v] : bars)
    out_ += "<tr><td>" + name + "</td><td class=\"num\">" + decimal(v, 4) + "</td></tr>\n";
  out_ += "</tbody></table></details>\n</section>\n";
}

void Page::distribution() {
  section_start("distribution", t_.distribution);
  struct Bucket {
    std::optional<double> from, to;
    double count;
  };
  std::vector<Bucket> buckets;
  if (const Value* rows = get(&card_, {"score_distribution"}); rows && rows->IsArray())
    for (const Value& r : rows->GetArray())
      if (const auto c = number(get(&r, {"count"})); c && *c >= 0)
        buckets.push_back({number(get(&r, {"from"})), number(get(&r, {"to"})), *c});
  if (buckets.empty()) {
    out_ += "<p>" + std::string(t_.no_data) + "</p>\n</section>\n";
    return;
  }
  auto range = [&](const Bucket& b) {
    return (b.from ? decimal(*b.from, 2) : std::string(kMissing)) + "–" +
           (b.to ? decimal(*b.to, 2) : std::string(kMissing));
  };
  double max = 0;
  for (const Bucket& b : buckets) max = std::max(max, b.count);
  const double top = nice_top(max);
  const double x0 = 70, x1 = 620, y0 = 260, y1 = 20;
  const double slot = (x1 - x0) / static_cast<double>(buckets.size());
  out_ += "<figure>\n" +
          svg_open("chart-distribution", t_.distribution, t_.distribution_desc, 640, 310);
  out_ += y_grid(top, x0, x1, y0, y1, [&](double v) { return integer(v); });
  char buffer[512];
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    const double x = x0 + slot * static_cast<double>(i);
    const double h = (y0 - y1) * buckets[i].count / top;
    std::snprintf(buffer, sizeof buffer,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#1f5fa8\" "
                  "stroke=\"#fff\"><title>",
                  x, y0 - h, slot, h);
    out_ += buffer + range(buckets[i]) + ": " + integer(buckets[i].count) + "</title></rect>\n";
  }
  // Score labels at the bucket edges, thinned to at most 11.
  const std::size_t every = (buckets.size() + 9) / 10;
  for (std::size_t i = 0; i <= buckets.size(); i += every) {
    const std::optional<double> edge = i < buckets.size() ? buckets[i].from : buckets.back().to;
    if (!edge) continue;
    std::snprintf(buffer, sizeof buffer,
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\" "
                  "fill=\"#1b1f24\">",
                  x0 + slot * static_cast<double>(i), y0 + 16);
    out_ += buffer + decimal(*edge, 1) + "</text>";
  }
  std::snprintf(buffer, sizeof buffer,
                "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#1b1f24\"/>"
                "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" text-anchor=\"middle\" "
                "fill=\"#1b1f24\">Score</text>\n</svg>\n",
                x0, y0, x1, y0, (x0 + x1) / 2, y0 + 38);
  out_ += buffer;
  out_ += "<figcaption>" + std::string(t_.distribution_desc) + "</figcaption>\n</figure>\n";
  out_ += "<details><summary>" + std::string(t_.chart_data) + "</summary>\n";
  table_head({t_.score_range, t_.donors});
  for (const Bucket& b : buckets)
    out_ += "<tr><td>" + range(b) + "</td><td class=\"num\">" + integer(b.count) + "</td></tr>\n";
  out_ += "</tbody></table></details>\n</section>\n";
}

void Page::windows() {
  section_start("windows", t_.windows);
  table_head({"", t_.cutoff, t_.label_end, t_.examples, t_.positives});
  auto window_row = [&](const char* label, const Value* w) {
    out_ += "<tr><th scope=\"row\">" + std::string(label) + "</th><td>" + show(get(w, {"cutoff"})) +
            "</td><td>" + show(get(w, {"label_end"})) + "</td><td class=\"num\">" +
            show(get(w, {"examples"})) + "</td><td class=\"num\">" + show(get(w, {"positives"})) +
            "</td></tr>\n";
  };
  bool any = false;
  if (const Value* training = get(&card_, {"windows", "training"}); training && training->IsArray())
    for (const Value& w : training->GetArray()) {
      window_row(t_.training, &w);
      any = true;
    }
  if (!any) window_row(t_.training, nullptr);
  window_row(t_.validation, get(&card_, {"windows", "validation"}));
  out_ += "</tbody></table>\n<h3>" + std::string(t_.sizes) + "</h3>\n<table>\n";
  struct Size {
    const char* key;
    std::string label;
  };
  const std::vector<Size> known = {
      {"training_examples", std::string(t_.training) + ": " + t_.examples},
      {"training_positives", std::string(t_.training) + ": " + t_.positives},
      {"validation_examples", std::string(t_.validation) + ": " + t_.examples},
      {"validation_positives", std::string(t_.validation) + ": " + t_.positives},
      {"training_rows_used", t_.training_rows_used},
      {"trees", t_.trees},
      {"best_iteration", t_.best_iteration},
  };
  for (const Size& s : known) row(s.label.c_str(), show({"sizes", s.key}));
  if (const Value* sizes = get(&card_, {"sizes"}); sizes && sizes->IsObject())
    for (const auto& m : sizes->GetObject()) {
      const std::string key(m.name.GetString(), m.name.GetStringLength());
      if (std::none_of(known.begin(), known.end(), [&](const Size& s) { return key == s.key; }))
        row(html_escape(key).c_str(), show(&m.value));
    }
  out_ += "</table>\n</section>\n";
}

void Page::params() {
  section_start("params", t_.params);
  const Value* params = get(&card_, {"params"});
  if (params == nullptr || !params->IsObject() || params->MemberCount() == 0) {
    out_ += "<p>" + std::string(kMissing) + "</p>\n</section>\n";
    return;
  }
  table_head({t_.parameter, t_.value});
  for (const auto& m : params->GetObject()) {
    const std::string key(m.name.GetString(), m.name.GetStringLength());
    // Parameters as XGBoost reads them: 0.1, not 0,1.
    const std::string value =
        m.value.IsNumber() || m.value.IsBool() ? html_escape(json_text(m.value)) : show(&m.value);
    out_ += "<tr><th scope=\"row\"><code>" + html_escape(key) + "</code></th><td><code>" + value +
            "</code></td></tr>\n";
  }
  out_ += "</tbody></table>\n</section>\n";
}

void Page::activation() {
  section_start("activation", t_.activation);
  const Value* activation = get(&card_, {"activation"});
  if (activation == nullptr || !activation->IsObject()) {
    out_ += "<p>" + std::string(t_.not_activated) + "</p>\n</section>\n";
    return;
  }
  out_ += "<table>\n";
  row(t_.status, status());
  row(t_.activated_at, show(get(activation, {"activated_at"})));
  row(t_.activated_by, show(get(activation, {"activated_by"})));
  row(t_.reason, show(get(activation, {"reason"})));
  row(t_.fairness_override, show(get(activation, {"fairness_override"})));
  out_ += "</table>\n";
  const Value* override_used = get(activation, {"fairness_override"});
  if (override_used != nullptr && override_used->IsBool() && override_used->GetBool())
    out_ += "<p class=\"fail\"><strong>" + std::string(t_.override_used) + "</strong></p>\n";
  out_ += "</section>\n";
}

void Page::fairness() {
  section_start("fairness", t_.fairness);
  const Value* report = get(&card_, {"fairness"});
  const Value* attributes = get(report, {"attributes"});
  if (attributes == nullptr || !attributes->IsArray()) {
    out_ += "<p>" + std::string(t_.no_fairness) + "</p>\n</section>\n";
    return;
  }
  auto verdict = [&](const Value* passes, const Value* judged) {
    if (judged != nullptr && judged->IsBool() && !judged->GetBool())
      return "<span class=\"badge muted\">" + std::string(t_.not_judged) + "</span>";
    if (passes == nullptr || !passes->IsBool())
      return "<span class=\"badge muted\">" + std::string(kMissing) + "</span>";
    return passes->GetBool() ? "<span class=\"badge pass\">" + std::string(t_.pass) + "</span>"
                             : "<span class=\"badge fail\">" + std::string(t_.fail) + "</span>";
  };
  out_ += "<p class=\"verdict\">" + std::string(t_.four_fifths_rule) + ": " +
          verdict(get(report, {"passes_four_fifths"}), nullptr) + "</p>\n";
  out_ += "<p>" + std::string(t_.fairness_intro) + " (" + t_.decile + " ≤ " +
          show(get(report, {"selected_deciles"})) + "; min. " +
          show(get(report, {"min_group_size"})) + "; " + t_.four_fifths_ratio + " ≥ " +
          show(get(report, {"threshold"}), 2) + ")</p>\n";
  for (const Value& a : attributes->GetArray()) {
    const std::string name = show(get(&a, {"attribute"}));
    out_ += "<h3>" + std::string(t_.attribute) + ": " + name + " " +
            verdict(get(&a, {"passes_four_fifths"}), get(&a, {"judged"})) + "</h3>\n<table>\n";
    row(t_.four_fifths_ratio, show(get(&a, {"four_fifths_ratio"}), 3));
    row(t_.eod, show(get(&a, {"equal_opportunity_difference"}), 3));
    row(t_.missing_group, show(get(&a, {"missing"})));
    out_ += "</table>\n";
    table_head({t_.group, t_.count, t_.selected, t_.selection_rate, t_.tpr, t_.note});
    if (const Value* groups = get(&a, {"groups"}); groups && groups->IsArray())
      for (const Value& g : groups->GetArray()) {
        const Value* too_small = get(&g, {"too_small"});
        const bool small = too_small != nullptr && too_small->IsBool() && too_small->GetBool();
        out_ += "<tr><td>" + show(get(&g, {"group"})) + "</td><td class=\"num\">" +
                show(get(&g, {"count"})) + "</td><td class=\"num\">" + show(get(&g, {"selected"})) +
                "</td><td class=\"num\">" + show(get(&g, {"selection_rate"}), 3) +
                "</td><td class=\"num\">" + show(get(&g, {"true_positive_rate"}), 3) + "</td><td>" +
                (small ? std::string(t_.too_small) : "") + "</td></tr>\n";
      }
    out_ += "</tbody></table>\n";
  }
  out_ += "</section>\n";
}

void Page::features() {
  section_start("features", t_.features);
  out_ += "<h3>" + std::string(t_.features_used) + "</h3>\n";
  const Value* list = get(&card_, {"features"});
  if (list == nullptr || !list->IsArray() || list->Empty()) {
    out_ += "<p>" + std::string(kMissing) + "</p>\n";
  } else {
    out_ += "<ul class=\"features\">\n";
    for (const Value& f : list->GetArray()) {
      // A name, or an object with "name" and perhaps "description".
      const Value* name_value = f.IsString() ? &f : get(&f, {"name"});
      const std::string name =
          name_value != nullptr && name_value->IsString()
              ? std::string(name_value->GetString(), name_value->GetStringLength())
              : std::string();
      std::string description;
      if (const Value* d = get(&f, {"description"}); d != nullptr && d->IsString())
        description = html_escape(d->GetString());
      for (const FeatureInfo& info : kRequiredFeatures)
        if (description.empty() && info.name == name)
          description = std::string(german() ? info.description_de : info.description_en);
      out_ += "<li><code>" + (name.empty() ? std::string(kMissing) : html_escape(name)) +
              "</code>" + (description.empty() ? "" : ": " + description) + "</li>\n";
    }
    out_ += "</ul>\n";
  }
  out_ += "<h3>" + std::string(t_.excluded) + "</h3>\n<p>" + t_.excluded_intro + "</p>\n<ul>\n";
  const Value* excluded = get(&card_, {"excluded_attributes"});
  if (excluded != nullptr && excluded->IsArray() && !excluded->Empty()) {
    for (const Value& e : excluded->GetArray()) out_ += "<li><code>" + show(&e) + "</code></li>\n";
  } else {
    for (std::string_view name : kNeverFeatures)
      out_ += "<li><code>" + html_escape(name) + "</code></li>\n";
  }
  out_ += "</ul>\n</section>\n";
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string render_card_html(const rapidjson::Value& card, std::string_view lang) {
  return Page(card, lang == "en" ? kEnglish : kGerman).render();
}

}  // namespace gabe
