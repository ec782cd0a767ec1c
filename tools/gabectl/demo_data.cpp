#include "demo_data.hpp"

#include <cmath>
#include <cstring>
#include <vector>

#include "gabe/json.hpp"
#include "gabe/values.hpp"

namespace gabe::demo {

namespace {

// xoshiro256** seeded by splitmix64: fast, deterministic, good enough for synthetic data.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    for (auto& s : s_) {
      seed += 0x9e3779b97f4a7c15ULL;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      s = z ^ (z >> 31);
    }
  }
  std::uint64_t next() {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  bool chance(double p) { return uniform() < p; }
  double normal() {
    double u1 = uniform() + 1e-12, u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4] = {};
};

constexpr const char* kFirstNames[] = {
    "Anna",     "Maria",    "Ursula",   "Monika",  "Petra",   "Elisabeth", "Sabine", "Renate",
    "Helga",    "Karin",    "Brigitte", "Ingrid",  "Erika",   "Andrea",    "Gisela", "Claudia",
    "Susanne",  "Gabriele", "Christa",  "Jutta",   "Peter",   "Michael",   "Thomas", "Andreas",
    "Wolfgang", "Klaus",    "Jürgen",   "Günter",  "Stefan",  "Christian", "Uwe",    "Werner",
    "Horst",    "Frank",    "Dieter",   "Manfred", "Gerhard", "Hans",      "Bernd",  "Torsten",
    "Lena",     "Lukas",    "Jonas",    "Leonie",  "Fatma",   "Mehmet"};
constexpr const char* kLastNames[] = {
    "Müller",   "Schmidt",  "Schneider", "Fischer",    "Weber",  "Meyer",   "Wagner",  "Becker",
    "Schulz",   "Hoffmann", "Schäfer",   "Koch",       "Bauer",  "Richter", "Klein",   "Wolf",
    "Schröder", "Neumann",  "Schwarz",   "Zimmermann", "Braun",  "Krüger",  "Hofmann", "Hartmann",
    "Lange",    "Schmitt",  "Werner",    "Schmitz",    "Krause", "Meier",   "Lehmann", "Schmid",
    "Schulze",  "Maier",    "Köhler",    "Herrmann",   "König",  "Walter",  "Mayer",   "Huber",
    "Kaiser",   "Fuchs",    "Peters",    "Lang",       "Scholz", "Möller",  "Weiß",    "Jung",
    "Hahn",     "Yılmaz"};
struct City {
  const char* name;
  const char* postal_prefix;
};
constexpr City kCities[] = {{"Berlin", "10"},
                            {"Hamburg", "20"},
                            {"München", "80"},
                            {"Köln", "50"},
                            {"Frankfurt am Main", "60"},
                            {"Stuttgart", "70"},
                            {"Düsseldorf", "40"},
                            {"Leipzig", "04"},
                            {"Dortmund", "44"},
                            {"Essen", "45"},
                            {"Bremen", "28"},
                            {"Dresden", "01"},
                            {"Hannover", "30"},
                            {"Nürnberg", "90"},
                            {"Münster", "48"},
                            {"Freiburg im Breisgau", "79"},
                            {"Kassel", "34"},
                            {"Rostock", "18"}};
constexpr const char* kStreets[] = {
    "Hauptstraße", "Schulstraße",  "Gartenstraße", "Bahnhofstraße",  "Dorfstraße",
    "Bergstraße",  "Lindenstraße", "Kirchstraße",  "Waldstraße",     "Ringstraße",
    "Mühlenweg",   "Am Markt",     "Goethestraße", "Schillerstraße", "Rosenweg"};
constexpr const char* kFunds[] = {
    "Allgemeine Spende", "Kältehilfe", "Kinder- und Jugendhilfe", "Pflege", "Tafel",
    "Katastrophenhilfe"};
constexpr const char* kTags[] = {
    "ehrenamt", "mitglied", "grossspender", "testament-interesse", "newsletter", "veranstaltung"};

struct Campaign {
  std::string ref;
  const char* name;
  const char* channel;
  std::int64_t start_day;
  std::int64_t end_day;
  std::int64_t cost_cents;
};

std::string date_text(std::int64_t day) {
  return format_instant({day * 86400, 0}).substr(0, 10);
}

std::int64_t day_of(const std::string& date) {
  return days_from_civil(std::stoi(date.substr(0, 4)),
                         static_cast<unsigned>(std::stoi(date.substr(5, 2))),
                         static_cast<unsigned>(std::stoi(date.substr(8, 2))));
}

int month_of(std::int64_t day) {
  return std::stoi(date_text(day).substr(5, 2));
}

class Writer {
 public:
  Writer(std::FILE* out, const Options& o) : out_(out), o_(o), source_json_(json_string(o.source)) {
    buf_.reserve(1 << 20);
  }
  ~Writer() { flush(); }

  // Starts an event line; the caller appends data fields and calls end().
  void begin(const char* type, std::int64_t day, int second_of_day) {
    buf_ += "{\"id\":\"demo-";
    buf_ += std::to_string(o_.seed);
    buf_ += '-';
    buf_ += std::to_string(++count_);
    buf_ += "\",\"source\":";
    buf_ += source_json_;
    buf_ += ",\"type\":\"";
    buf_ += type;
    buf_ += "\",\"timestamp\":\"";
    buf_ += date_text(day);
    char t[16];
    std::snprintf(t, sizeof t, "T%02d:%02d:%02dZ", second_of_day / 3600, second_of_day / 60 % 60,
                  second_of_day % 60);
    buf_ += t;
    buf_ += "\",\"data\":{";
    first_ = true;
  }
  void str(const char* key, std::string_view value) {
    sep();
    buf_ += '"';
    buf_ += key;
    buf_ += "\":\"";
    buf_ += value;  // generated values contain no characters that need escaping
    buf_ += '"';
  }
  void raw(const char* key, std::string_view json) {
    sep();
    buf_ += '"';
    buf_ += key;
    buf_ += "\":";
    buf_ += json;
  }
  void end() {
    buf_ += "}}\n";
    if (buf_.size() > (1 << 20) - 4096) flush();
  }
  std::uint64_t count() const { return count_; }

 private:
  static std::string json_string(std::string_view text) {
    JsonWriter w;
    w.value(text);
    return w.take();
  }
  void sep() {
    if (!first_) buf_ += ',';
    first_ = false;
  }
  void flush() {
    std::fwrite(buf_.data(), 1, buf_.size(), out_);
    buf_.clear();
  }
  std::FILE* out_;
  const Options& o_;
  const std::string source_json_;  // "…", escaped once
  std::string buf_;
  std::uint64_t count_ = 0;
  bool first_ = true;
};

}  // namespace

std::uint64_t write_demo_data(const Options& o, std::FILE* out) {
  Rng rng(o.seed);
  Writer w(out, o);
  const std::int64_t end = day_of(o.end_date);
  const std::int64_t start = end - std::int64_t{365} * o.years;

  // Campaigns: a Christmas mailing each year, a spring appeal, an emergency appeal, online.
  std::vector<Campaign> campaigns;
  for (int y = 0; y < o.years; ++y) {
    std::int64_t base = start + std::int64_t{365} * y;
    campaigns.push_back({"weihnachten-" + std::to_string(y + 1), "Weihnachtsmailing", "post",
                         base + 300, base + 345, 85});
    campaigns.push_back({"fruehjahr-" + std::to_string(y + 1), "Frühjahrsbrief", "post", base + 90,
                         base + 120, 80});
    campaigns.push_back(
        {"online-" + std::to_string(y + 1), "Online-Aktion", "email", base + 180, base + 200, 5});
  }
  for (const auto& c : campaigns) {
    if (c.start_day - 14 > end) continue;
    w.begin("campaign.upserted", c.start_day - 14, 8 * 3600);
    w.str("campaign_ref", c.ref);
    w.str("name", c.name);
    w.str("channel", c.channel);
    w.str("starts_on", date_text(c.start_day));
    w.str("ends_on", date_text(c.end_day));
    w.raw("goal_amount", "\"50000.00\"");
    w.str("cost_per_contact", format_money(c.cost_cents));
    w.end();
  }

  char ref[32];
  char amount[32];
  for (std::uint64_t i = 1; i <= o.donors; ++i) {
    if (o.progress && i % 512 == 0) o.progress(i, w.count());
    std::snprintf(ref, sizeof ref, "D%08llu", static_cast<unsigned long long>(i));
    // Donor traits: how generous, how loyal, how responsive to appeals (the planted signal).
    const double generosity = std::exp(3.2 + 0.8 * rng.normal());  // median ~25 EUR
    const double loyalty = rng.uniform();
    const double responsiveness = rng.uniform();
    const std::int64_t joined =
        start + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(end - start - 30)));
    const bool recurring = rng.chance(0.12);
    // Lapse: many donors stop giving at some point.
    const std::int64_t stops =
        rng.chance(0.45) ? joined + 60 + static_cast<std::int64_t>(rng.below(900)) : end + 1;

    const City& city = kCities[rng.below(std::size(kCities))];
    w.begin("donor.upserted", joined, 9 * 3600 + static_cast<int>(rng.below(30000)));
    w.str("donor_ref", ref);
    const bool organization = rng.chance(0.03);
    if (organization) {
      w.str("organization_name",
            std::string("Firma ") + kLastNames[rng.below(std::size(kLastNames))] + " GmbH");
    } else {
      const char* first = kFirstNames[rng.below(std::size(kFirstNames))];
      const char* last = kLastNames[rng.below(std::size(kLastNames))];
      w.str("first_name", first);
      w.str("last_name", last);
      if (rng.chance(0.7)) {
        std::string email = std::string("spender") + std::to_string(i) + "@example.org";
        w.str("email", email);
      }
    }
    if (rng.chance(0.3)) w.str("phone", "+49 30 " + std::to_string(1000000 + rng.below(8999999)));
    w.str("street", std::string(kStreets[rng.below(std::size(kStreets))]) + " " +
                        std::to_string(1 + rng.below(120)));
    char postal[8];
    std::snprintf(postal, sizeof postal, "%s%03llu", city.postal_prefix,
                  static_cast<unsigned long long>(rng.below(1000)));
    w.str("postal_code", postal);
    w.str("city", city.name);
    w.str("country", "DE");
    w.str("language", rng.chance(0.93) ? "de" : "en");
    std::string consent = "{\"email\":";
    consent += rng.chance(0.6) ? "true" : "false";
    consent += ",\"post\":";
    consent += rng.chance(0.9) ? "true" : "false";
    consent += ",\"phone\":";
    consent += rng.chance(0.2) ? "true" : "false";
    consent += ",\"sms\":false}";
    w.raw("consent", consent);
    if (rng.chance(0.2)) {
      w.raw("tags", std::string("[\"") + kTags[rng.below(std::size(kTags))] + "\"]");
    }
    static constexpr const char* kGender[] = {"f", "m", "d", "u"};
    static constexpr const char* kAge[] = {"<30", "30-44", "45-59", "60-74", "75+"};
    w.raw("audit", std::string("{\"gender\":\"") + kGender[rng.below(4)] + "\",\"age_band\":\"" +
                       kAge[rng.below(5)] + "\"}");
    w.end();

    if (rng.chance(0.02)) {
      w.begin("consent.changed", std::min(end, joined + 100), 12 * 3600);
      w.str("donor_ref", ref);
      w.str("channel", "profiling");
      w.raw("granted", "false");
      w.str("source", "Widerspruch per Brief");
      w.end();
    }

    std::uint64_t gift_no = 0;
    auto gift = [&](std::int64_t day, std::int64_t cents, const std::string* campaign,
                    const char* channel, const char* recurring_ref) {
      std::snprintf(ref + 9, sizeof ref - 9, "-G%llu", static_cast<unsigned long long>(++gift_no));
      std::string gift_ref(ref);
      ref[9] = '\0';
      w.begin("gift.created", day, 10 * 3600 + static_cast<int>(rng.below(40000)));
      w.str("gift_ref", gift_ref);
      w.str("donor_ref", ref);
      std::snprintf(amount, sizeof amount, "%s", format_money(cents).c_str());
      w.str("amount", amount);
      w.str("received_on", date_text(day));
      if (campaign) w.str("campaign_ref", *campaign);
      w.str("channel", channel);
      w.str("fund", kFunds[rng.below(std::size(kFunds))]);
      if (recurring_ref) w.str("recurring_ref", recurring_ref);
      w.end();
    };
    auto round_amount = [&](double euros) {
      static constexpr double kSteps[] = {5,   10,  15,  20,  25,  30,   50,  75,
                                          100, 150, 200, 250, 500, 1000, 2500};
      double best = kSteps[0];
      for (double s : kSteps) {
        if (std::fabs(s - euros) < std::fabs(best - euros)) best = s;
      }
      // Some gifts are odd amounts (e.g. round-ups, foreign transfers).
      if (rng.chance(0.15)) best = std::max(1.0, std::round(euros * 100) / 100);
      return static_cast<std::int64_t>(std::llround(best * 100));
    };

    if (recurring) {
      std::string rref = std::string(ref) + "-R";
      const std::int64_t monthly = std::max<std::int64_t>(500, round_amount(generosity * 0.4));
      const bool cancelled = stops <= end;
      w.begin("recurring.upserted", joined, 11 * 3600);
      w.str("recurring_ref", rref);
      w.str("donor_ref", ref);
      w.str("amount", format_money(monthly));
      w.str("interval", "monthly");
      w.str("status", "active");
      w.str("started_on", date_text(joined));
      w.end();
      for (std::int64_t d = joined; d < std::min(stops, end); d += 30)
        gift(d, monthly, nullptr, "sepa", rref.c_str());
      if (cancelled) {
        w.begin("recurring.upserted", stops, 11 * 3600);
        w.str("recurring_ref", rref);
        w.str("donor_ref", ref);
        w.str("amount", format_money(monthly));
        w.str("interval", "monthly");
        w.str("status", "cancelled");
        w.str("started_on", date_text(joined));
        w.str("cancelled_on", date_text(stops));
        w.str("cancel_reason", rng.chance(0.5) ? "finanzielle Gründe" : "keine Angabe");
        w.end();
      }
    }

    // One-off gifts: a first gift at joining, then spontaneous gifts (more in December) and
    // answers to appeals.
    gift(joined, round_amount(generosity), nullptr, rng.chance(0.5) ? "online" : "transfer",
         nullptr);
    const double base_rate = 0.002 + 0.01 * loyalty;  // per day
    for (std::int64_t d = joined + 7; d < std::min(stops, end); d += 7) {
      double rate = base_rate * 7 * (month_of(d) == 12 ? 4.0 : 1.0);
      if (rng.chance(rate))
        gift(d, round_amount(generosity * std::exp(0.3 * rng.normal())), nullptr,
             rng.chance(0.6) ? "transfer" : "online", nullptr);
    }
    for (const auto& c : campaigns) {
      if (c.start_day < joined || c.start_day > end) continue;
      if (!rng.chance(c.channel[0] == 'p' ? 0.7 : 0.4)) continue;
      w.begin("appeal.sent", c.start_day, 7 * 3600);
      w.str("campaign_ref", c.ref);
      w.str("donor_ref", ref);
      w.str("sent_on", date_text(c.start_day));
      w.str("channel", c.channel);
      w.end();
      const bool active = c.start_day < stops;
      const double p = active ? 0.05 + 0.35 * responsiveness * responsiveness : 0.01;
      if (rng.chance(p)) {
        std::int64_t day = c.start_day + 3 + static_cast<std::int64_t>(rng.below(20));
        if (day <= end)
          gift(day, round_amount(generosity * 1.2), &c.ref,
               c.channel[0] == 'p' ? "transfer" : "online", nullptr);
      }
    }
  }
  return w.count();
}

}  // namespace gabe::demo
