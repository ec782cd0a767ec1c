// The model card page (services/scoring/pure/card_html.cpp): escaping, missing fields, both
// languages, and a real headless browser (Debian's chromium-headless-shell) rendering it.
#include "gabe/card_html.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "gabe/fairness.hpp"

namespace gabe {
namespace {

// The example card of services/scoring/model_card_example.json (scoring's shape), with a
// fairness report built by gabe::fairness_report below.
constexpr const char* kExampleCard = R"({
  "model_id": 7,
  "target": {"name": "give_90d", "kind": "give", "horizon_days": 90, "min_amount": "0.00"},
  "as_of": "2026-06-30",
  "status": "active",
  "created_by": "ops",
  "created_at": "2026-07-01T02:00:03Z",
  "finished_at": "2026-07-01T02:01:41Z",
  "model_sha256": "5f0c6a1e9d3b2c7a4e8f1d0b6c3a9e2f7d4b1c8a5e2f9d6b3c0a7e4f1d8b5c2a",
  "params": {"max_depth": 4, "eta": 0.1, "max_rounds": 300, "early_stopping_rounds": 20,
             "min_child_weight": 5, "subsample": 0.8, "colsample_bytree": 1.0, "lambda": 1.0,
             "seed": 42, "nthread": 2, "windows": 4, "max_training_rows": 500000},
  "features": ["gift_count", "gift_count_365d", "gift_amount_total", "gift_amount_365d",
               "largest_gift", "last_gift_amount", "days_since_last_gift", "recurring_active",
               "recurring_monthly_amount"],
  "windows": {
    "training": [
      {"cutoff": "2026-01-01", "label_end": "2026-04-01", "examples": 41230, "positives": 9120},
      {"cutoff": "2025-10-03", "label_end": "2026-01-01", "examples": 40110, "positives": 12800}
    ],
    "validation": {"cutoff": "2026-04-01", "label_end": "2026-06-30", "examples": 42001, "positives": 8800}
  },
  "sizes": {"training_examples": 81340, "training_positives": 21920, "validation_examples": 42001,
            "validation_positives": 8800, "trees": 143, "best_iteration": 142},
  "metrics": {
    "auc": 0.8123, "pr_auc": 0.5512, "logloss": 0.4121, "brier": 0.1302,
    "top_decile_lift": 3.41, "base_rate": 0.2095, "rfm_baseline_auc": 0.7650,
    "calibration": [
      {"decile": 1, "count": 4201, "mean_score": 0.71, "observed_rate": 0.69},
      {"decile": 2, "count": 4200, "mean_score": 0.48, "observed_rate": 0.50},
      {"decile": 3, "count": 4200, "mean_score": 0.33, "observed_rate": 0.31},
      {"decile": 4, "count": 4200, "mean_score": 0.22, "observed_rate": 0.23},
      {"decile": 5, "count": 4200, "mean_score": 0.15, "observed_rate": 0.16},
      {"decile": 6, "count": 4200, "mean_score": 0.10, "observed_rate": 0.09},
      {"decile": 7, "count": 4200, "mean_score": 0.07, "observed_rate": 0.07},
      {"decile": 8, "count": 4200, "mean_score": 0.05, "observed_rate": 0.04},
      {"decile": 9, "count": 4200, "mean_score": 0.03, "observed_rate": 0.03},
      {"decile": 10, "count": 4200, "mean_score": 0.02, "observed_rate": 0.02}
    ]
  },
  "importance": [
    {"feature": "days_since_last_gift", "mean_abs_shap": 0.6123},
    {"feature": "gift_count_365d", "mean_abs_shap": 0.4410},
    {"feature": "recurring_active", "mean_abs_shap": 0.2011},
    {"feature": "gift_amount_total", "mean_abs_shap": 0.0512}
  ],
  "score_distribution": [
    {"from": 0.0, "to": 0.1, "count": 20110}, {"from": 0.1, "to": 0.2, "count": 7002},
    {"from": 0.2, "to": 0.3, "count": 4100}, {"from": 0.3, "to": 0.4, "count": 3000},
    {"from": 0.4, "to": 0.5, "count": 2500}, {"from": 0.5, "to": 0.6, "count": 1900},
    {"from": 0.6, "to": 0.7, "count": 1500}, {"from": 0.7, "to": 0.8, "count": 1000},
    {"from": 0.8, "to": 0.9, "count": 600}, {"from": 0.9, "to": 1.0, "count": 289}
  ],
  "fairness": null,
  "activation": {"activated_at": "2026-07-01T08:12:00Z", "activated_by": "ops",
                 "reason": "Beats the RFM ranking; fairness checked", "fairness_override": false}
})";

// 200 donors: gender f for the first 100 (scores high), m for the rest; age_band alternating.
FairnessReport example_fairness(bool fair) {
  FairnessInput input;
  AuditAttribute gender{"gender", {}};
  AuditAttribute age{"age_band", {}};
  for (int i = 0; i < 200; ++i) {
    input.scores.push_back(1.0 - i / 200.0);
    input.labels.push_back(i % 3 == 0 ? 1 : 0);
    gender.groups.emplace_back(fair ? (i % 2 == 0 ? "f" : "m") : (i < 100 ? "f" : "m"));
    age.groups.emplace_back(i % 4 < 2 ? "18-39" : "40+");
  }
  input.attributes = {gender, age};
  return fairness_report(input);
}

rapidjson::Document example_card(bool fair = true) {
  rapidjson::Document card;
  card.Parse(kExampleCard);
  EXPECT_FALSE(card.HasParseError());
  card["fairness"] = to_json(example_fairness(fair), card.GetAllocator());
  return card;
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + needle.size()))
    ++n;
  return n;
}

// The markup of <svg id="id" ...> ... </svg>, or "".
std::string svg_of(const std::string& html, const std::string& id) {
  const std::size_t start = html.find("<svg id=\"" + id + "\"");
  if (start == std::string::npos) return "";
  const std::size_t end = html.find("</svg>", start);
  return end == std::string::npos ? "" : html.substr(start, end - start);
}

TEST(CardHtml, EscapesEveryTextFromTheCard) {
  rapidjson::Document card = example_card();
  auto& a = card.GetAllocator();
  card["features"].PushBack("<script>alert(1)</script>", a);
  card["importance"][0]["feature"].SetString("<script>alert(2)</script>", a);
  card["created_by"].SetString("O'Brien & \"Co\" <b>", a);
  card["params"].AddMember("<img src=x onerror=alert(3)>", "</code><script>", a);
  card["fairness"]["attributes"][0]["groups"][0]["group"].SetString("<i>f</i>", a);
  for (const char* lang : {"de", "en"}) {
    const std::string html = render_card_html(card, lang);
    EXPECT_EQ(html.find("<script"), std::string::npos) << lang;
    EXPECT_EQ(html.find("<img"), std::string::npos) << lang;
    EXPECT_EQ(html.find("<i>f</i>"), std::string::npos) << lang;
    EXPECT_NE(html.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos) << lang;
    EXPECT_NE(html.find("&lt;script&gt;alert(2)&lt;/script&gt;"), std::string::npos) << lang;
    EXPECT_NE(html.find("O&#39;Brien &amp; &quot;Co&quot; &lt;b&gt;"), std::string::npos) << lang;
    EXPECT_NE(html.find("&lt;img src=x onerror=alert(3)&gt;"), std::string::npos) << lang;
  }
  EXPECT_EQ(html_escape("a<b>&\"'"), "a&lt;b&gt;&amp;&quot;&#39;");
}

TEST(CardHtml, IsSelfContained) {
  const std::string html = render_card_html(example_card());
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("href="), std::string::npos);
  EXPECT_EQ(html.find("@import"), std::string::npos);
  EXPECT_EQ(occurrences(html, "url("), occurrences(html, "url(#"));
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0U);
  EXPECT_NE(html.find("<style>"), std::string::npos);
}

TEST(CardHtml, ShowsEveryPartOfTheCardInGerman) {
  const std::string html = render_card_html(example_card());
  EXPECT_NE(html.find("<html lang=\"de\">"), std::string::npos);
  EXPECT_NE(html.find("Modellkarte 7: give_90d"), std::string::npos);
  // The model's AUC and the RFM baseline's, side by side, with German decimal commas.
  EXPECT_NE(html.find("<td class=\"num\">0,8123</td><td class=\"num\">0,7650</td>"),
            std::string::npos);
  EXPECT_NE(html.find("3,4100"), std::string::npos);
  EXPECT_NE(html.find("41.230"), std::string::npos);  // training window examples
  EXPECT_NE(html.find("2025-10-03"), std::string::npos);
  EXPECT_NE(html.find("<code>eta</code></th><td><code>0.1</code>"), std::string::npos);
  EXPECT_NE(html.find("Trainiert von</th><td>ops</td>"), std::string::npos);
  EXPECT_NE(html.find("Status: <strong>aktiv</strong>"), std::string::npos);
  EXPECT_NE(html.find("Bäume</th><td>143</td>"), std::string::npos);
  EXPECT_EQ(html.find("Fehler</th>"), std::string::npos);  // only for a failed model
  EXPECT_NE(html.find("Beats the RFM ranking; fairness checked"), std::string::npos);
  EXPECT_NE(html.find("Tage seit der letzten Spende"), std::string::npos);  // catalogue text
  EXPECT_NE(html.find("<code>postal_code</code>"), std::string::npos);      // excluded
  EXPECT_NE(html.find("<code>gender</code>"), std::string::npos);
  EXPECT_NE(html.find("Vier-Fünftel-Regel: <span class=\"badge pass\">✔ bestanden</span>"),
            std::string::npos);
  for (const char* id : {"chart-calibration", "chart-importance", "chart-distribution"}) {
    const std::string svg = svg_of(html, id);
    EXPECT_GE(occurrences(svg, "<rect"), 4U) << id;
    EXPECT_NE(svg.find("<title id=\"" + std::string(id) + "-title\">"), std::string::npos) << id;
  }
  // 10 deciles × 2 bars, and the two keys of the legend.
  EXPECT_EQ(occurrences(svg_of(html, "chart-calibration"), "<rect x="), 22U);
  EXPECT_EQ(occurrences(svg_of(html, "chart-importance"), "<rect x="), 4U);
  EXPECT_EQ(occurrences(svg_of(html, "chart-distribution"), "<rect x="), 10U);
}

TEST(CardHtml, SpeaksEnglishAndFlagsAFailedFourFifthsRule) {
  rapidjson::Document card = example_card(false);
  card["activation"]["fairness_override"].SetBool(true);
  const std::string html = render_card_html(card, "en");
  EXPECT_NE(html.find("<html lang=\"en\">"), std::string::npos);
  EXPECT_NE(html.find("Model card 7: give_90d"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\">0.8123</td><td class=\"num\">0.7650</td>"),
            std::string::npos);
  EXPECT_NE(html.find("41,230"), std::string::npos);
  EXPECT_NE(html.find("Four-fifths rule: <span class=\"badge fail\">✘ failed</span>"),
            std::string::npos);
  EXPECT_NE(html.find("Activated although the four-fifths rule failed"), std::string::npos);
  EXPECT_NE(html.find("Days since the latest gift"), std::string::npos);
  // Gender: f holds every selected donor, m none; age bands are even.
  EXPECT_NE(html.find("gender <span class=\"badge fail\">"), std::string::npos);
  EXPECT_NE(html.find("age_band <span class=\"badge pass\">"), std::string::npos);
  card["status"].SetString("failed");
  card.AddMember("error", "XGBoost: <too few rows>", card.GetAllocator());
  const std::string failed = render_card_html(card, "en");
  EXPECT_NE(failed.find("Status: <strong>failed</strong>"), std::string::npos);
  EXPECT_NE(failed.find("Error</th><td>XGBoost: &lt;too few rows&gt;</td>"), std::string::npos);
  // Unknown languages read German.
  EXPECT_NE(render_card_html(card, "fr").find("<html lang=\"de\">"), std::string::npos);
}

TEST(CardHtml, MissingOrMistypedFieldsShowADash) {
  rapidjson::Document empty;
  empty.SetObject();
  const std::string html = render_card_html(empty, "en");
  EXPECT_NE(html.find("Model card —: —"), std::string::npos);
  EXPECT_NE(html.find("Trained by</th><td>—</td>"), std::string::npos);
  EXPECT_NE(html.find("<td class=\"num\">—</td><td class=\"num\">—</td>"), std::string::npos);
  EXPECT_NE(html.find("No fairness report"), std::string::npos);
  EXPECT_NE(html.find("This model has not been activated."), std::string::npos);
  EXPECT_EQ(html.find("<svg"), std::string::npos);
  EXPECT_EQ(occurrences(html, "No data."), 3U);
  EXPECT_NE(html.find("<code>age_band</code>"), std::string::npos);  // excluded, still listed

  rapidjson::Document odd;
  odd.Parse(R"({"model_id": "x", "target": 5, "metrics": {"auc": "high", "calibration": [1, {}]},
    "importance": [{"feature": 3, "mean_abs_shap": -1}, null], "score_distribution": {},
    "windows": {"training": [7]}, "sizes": [], "params": {"nested": {"a": [1, "<b>"]}},
    "fairness": {"attributes": [{"groups": [{}]}, 4]}, "features": [{"name": "gift_count"}, 9],
    "activation": {"fairness_override": "yes"}, "excluded_attributes": ["<gender>"]})");
  ASSERT_FALSE(odd.HasParseError());
  const std::string odd_html = render_card_html(odd);
  EXPECT_NE(odd_html.find("AUC (ROC)</th><td class=\"num\">—</td>"), std::string::npos);
  EXPECT_NE(odd_html.find("{&quot;a&quot;:[1,&quot;&lt;b&gt;&quot;]}"), std::string::npos);
  EXPECT_NE(odd_html.find("<code>&lt;gender&gt;</code>"), std::string::npos);
  EXPECT_NE(odd_html.find("Abgeschlossene Spenden insgesamt"), std::string::npos);

  rapidjson::Value not_an_object(42);
  EXPECT_NE(render_card_html(not_an_object).find("</html>"), std::string::npos);
}

// Debian's headless chromium: $GABE_CHROMIUM, or where chromium-headless-shell installs it.
std::string find_chromium() {
  if (const char* env = std::getenv("GABE_CHROMIUM"); env != nullptr && *env != '\0') return env;
  for (const char* path : {"/usr/lib/chromium/chromium-headless-shell",
                           "/usr/bin/chromium-headless-shell", "/usr/bin/chromium"})
    if (::access(path, X_OK) == 0) return path;
  return "";
}

// Runs a shell command; returns its exit status and stdout.
int run(const std::string& command, std::string& out) {
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::array<char, 65536> buffer{};
  std::size_t n = 0;
  while ((n = std::fread(buffer.data(), 1, buffer.size(), pipe)) > 0) out.append(buffer.data(), n);
  return ::pclose(pipe);
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Width and height from a PNG's IHDR chunk, or {0, 0} when it is not a PNG.
std::pair<std::uint32_t, std::uint32_t> png_size(const std::string& png) {
  if (png.size() < 24 || png.compare(0, 8, "\x89PNG\r\n\x1a\n") != 0 ||
      png.compare(12, 4, "IHDR") != 0)
    return {0, 0};
  auto be32 = [&](std::size_t at) {
    std::uint32_t v = 0;
    for (std::size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<unsigned char>(png[at + i]);
    return v;
  };
  return {be32(16), be32(20)};
}

class CardInBrowser : public ::testing::Test {
 protected:
  void SetUp() override {
    chromium_ = find_chromium();
    if (chromium_.empty())
      GTEST_SKIP() << "chromium-headless-shell is not installed (apt-get install "
                      "chromium-headless-shell; ./run installs it), so the card is not "
                      "rendered in a browser";
    dir_ = std::filesystem::temp_directory_path() /
           ("gabe-card-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_ / "profile");
  }
  void TearDown() override {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  // chromium with no sandbox (tests run as root in CI), no network, its own profile.
  std::string browser(const std::string& flags, const std::filesystem::path& page) const {
    return "timeout 120 '" + chromium_ + "' --no-sandbox --disable-gpu --hide-scrollbars " +
           "--no-first-run --disable-extensions --user-data-dir='" + (dir_ / "profile").string() +
           "' --host-resolver-rules='MAP * ~NOTFOUND' " + flags + " 'file://" + page.string() +
           "' 2>'" + (dir_ / "chromium.log").string() + "'";
  }

  std::string chromium_;
  std::filesystem::path dir_;
};

TEST_F(CardInBrowser, RendersTheThreeChartsAndAVisiblePage) {
  const std::filesystem::path page = dir_ / "card.html";
  std::ofstream(page) << render_card_html(example_card(false));

  std::string dom;
  ASSERT_EQ(run(browser("--dump-dom", page), dom), 0) << read_file(dir_ / "chromium.log");
  // The browser's DOM, not our text: the parser kept the three charts with their shapes.
  EXPECT_NE(dom.find("<html lang=\"de\">"), std::string::npos) << dom.substr(0, 400);
  for (const char* id : {"chart-calibration", "chart-importance", "chart-distribution"}) {
    const std::string svg = svg_of(dom, id);
    ASSERT_FALSE(svg.empty()) << id << " missing from the DOM";
    EXPECT_GE(occurrences(svg, "<rect "), 4U) << id;
    EXPECT_GE(occurrences(svg, "<text "), 2U) << id;
  }
  EXPECT_NE(dom.find("✘ nicht bestanden"), std::string::npos);
  EXPECT_EQ(dom.find("<script"), std::string::npos);

  // A screenshot of the page against one of an empty page of the same size: a blank PNG
  // compresses to almost nothing, the card's text and charts do not.
  const std::filesystem::path blank = dir_ / "blank.html";
  std::ofstream(blank) << "<!DOCTYPE html><html><body></body></html>";
  std::string ignored;
  const std::string size = "--window-size=1024,1600";
  ASSERT_EQ(
      run(browser(size + " --screenshot='" + (dir_ / "card.png").string() + "'", page), ignored), 0)
      << read_file(dir_ / "chromium.log");
  ASSERT_EQ(
      run(browser(size + " --screenshot='" + (dir_ / "blank.png").string() + "'", blank), ignored),
      0)
      << read_file(dir_ / "chromium.log");
  const std::string card_png = read_file(dir_ / "card.png");
  const std::string blank_png = read_file(dir_ / "blank.png");
  EXPECT_EQ(png_size(card_png), (std::pair<std::uint32_t, std::uint32_t>{1024, 1600}));
  EXPECT_EQ(png_size(blank_png), (std::pair<std::uint32_t, std::uint32_t>{1024, 1600}));
  EXPECT_GT(card_png.size(), 10 * blank_png.size() + 20000)
      << "card " << card_png.size() << " bytes, blank page " << blank_png.size() << " bytes";
}

}  // namespace
}  // namespace gabe
