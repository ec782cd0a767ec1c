// The segments API: segments and their refresh, consented exports, matching runs and campaign
// results. Each handler turns a request into rule compiling, matching or a named statement.
#include "handlers.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <random>
#include <span>
#include <typeinfo>

#include "csv.hpp"
#include "gabe/json.hpp"
#include "gabe/log.hpp"
#include "gabe/periodic.hpp"
#include "gabe/targets.hpp"
#include "gabe/values.hpp"
#include "matching.hpp"
#include "queries.hpp"
#include "results.hpp"
#include "rules.hpp"

namespace gabe::segments {

namespace {

using Clock = std::chrono::steady_clock;

std::int64_t elapsed_ms(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// A number in its shortest exact text form (a double: the shortest that reads back as itself).
template <typename T>
void number_text(std::string& out, T v) {
  std::array<char, 32> buf{};
  const auto res = std::to_chars(buf.data(), buf.data() + buf.size(), v);
  out.assign(buf.data(), res.ptr);
}

// The members export's columns: (name, column of sql::kMembers), per channel.
struct Column {
  std::string_view name;
  int index;
};
constexpr std::array<Column, 3> kBaseColumns{{{"donor_id", 0}, {"source", 1}, {"ref", 2}}};
constexpr std::array<Column, 7> kPostColumns{{{"first_name", 3},
                                              {"last_name", 4},
                                              {"organization_name", 5},
                                              {"street", 6},
                                              {"postal_code", 7},
                                              {"city", 8},
                                              {"country", 9}}};
constexpr std::array<Column, 4> kEmailColumns{
    {{"first_name", 3}, {"last_name", 4}, {"organization_name", 5}, {"email", 10}}};
constexpr std::array<Column, 4> kPhoneColumns{
    {{"first_name", 3}, {"last_name", 4}, {"organization_name", 5}, {"phone", 11}}};
// The assignments export's columns: (name, column of sql::kAssignments).
constexpr std::array<Column, 6> kAssignmentColumns{{{"donor_id", 1},
                                                    {"source", 2},
                                                    {"ref", 3},
                                                    {"campaign_ref", 4},
                                                    {"group", 5},
                                                    {"expected_value", 6}}};

std::vector<Column> export_columns(const std::optional<std::string>& channel) {
  std::vector<Column> cols(kBaseColumns.begin(), kBaseColumns.end());
  if (!channel) return cols;
  if (*channel == "post") cols.insert(cols.end(), kPostColumns.begin(), kPostColumns.end());
  if (*channel == "email") cols.insert(cols.end(), kEmailColumns.begin(), kEmailColumns.end());
  if (*channel == "phone") cols.insert(cols.end(), kPhoneColumns.begin(), kPhoneColumns.end());
  return cols;
}

// The audit details of an export: {"channel", "format"[, "campaign_ref"], "rows"}.
std::string export_details(const std::optional<std::string>& channel, std::string_view format,
                           std::size_t rows,
                           const std::optional<std::string>& campaign_ref = std::nullopt) {
  JsonWriter w;
  w.begin_object().field("channel", channel).field("format", format);
  if (campaign_ref) w.field("campaign_ref", *campaign_ref);
  w.field("rows", static_cast<std::int64_t>(rows)).end_object();
  return w.take();
}

http::Response csv_response(std::string body, const std::string& filename) {
  http::Response r;
  r.content_type = "text/csv; charset=utf-8";
  r.body = std::move(body);
  r.headers.emplace_back("content-disposition", "attachment; filename=\"" + filename + "\"");
  return r;
}

// A text column that may be NULL (libpqxx 6.4's optional conversion throws on NULL).
std::optional<std::string> text_or_null(const pqxx::field& f) {
  if (f.is_null()) return std::nullopt;
  return std::string(f.c_str());
}

const JsonValue& body_object(const http::Request& req, rapidjson::Document& doc) {
  req.require_json();
  auto parsed = parse_json(req.body);
  doc.Swap(*parsed);
  if (!doc.IsObject())
    throw unprocessable("The body must be a JSON object.", {{"", "must be an object"}});
  return doc;
}

struct SegmentInput {
  std::string name;
  std::string description;
  std::string rule_json;
};

SegmentInput read_segment(const http::Request& req) {
  rapidjson::Document doc;
  const auto& body = body_object(req, doc);
  FieldReader r(body);
  r.refuse_unknown({"name", "description", "rule"});
  auto name = r.string("name", true, 200);
  auto description = r.string("description", false, 2000);
  std::vector<FieldError> errors = r.errors();
  if (name && name->empty()) errors.push_back({"name", "must not be empty"});
  const JsonValue* rule = member(body, "rule");
  if (!rule) {
    errors.push_back({"rule", "is required"});
  } else {
    try {
      compile_rule(*rule);
    } catch (const Problem& p) {
      errors.insert(errors.end(), p.errors().begin(), p.errors().end());
    }
  }
  if (!errors.empty()) throw unprocessable("The segment is not valid.", errors);
  JsonWriter w;
  w.value(*rule);
  return {*name, description.value_or(""), w.take()};
}

struct CampaignSpec {
  std::string ref;
  std::string target;
  std::string channel;
  std::int64_t capacity = 0;
  std::int64_t cost_cents = 0;
};

struct MatchRequest {
  std::vector<CampaignSpec> campaigns;
  std::int64_t max_asks = 1;
  std::int64_t min_days = 0;
  double holdout_fraction = 0.1;
  std::uint64_t seed = 0;

  std::string to_json() const {
    JsonWriter w;
    w.begin_object().key("campaigns").begin_array();
    for (const auto& c : campaigns) {
      w.begin_object()
          .field("campaign_ref", c.ref)
          .field("target", c.target)
          .field("capacity", c.capacity)
          .field("cost_per_contact", format_money(c.cost_cents))
          .field("channel", c.channel)
          .end_object();
    }
    w.end_array()
        .field("max_asks_per_donor", max_asks)
        .field("min_days_since_last_ask", min_days)
        .field("holdout_fraction", holdout_fraction)
        .field("seed", static_cast<std::int64_t>(seed))
        .end_object();
    return w.take();
  }
};

constexpr std::size_t kMaxCampaigns = 20;

MatchRequest read_match_request(const http::Request& req) {
  rapidjson::Document doc;
  const auto& body = body_object(req, doc);
  MatchRequest m;
  FieldReader r(body);
  r.refuse_unknown(
      {"campaigns", "max_asks_per_donor", "min_days_since_last_ask", "holdout_fraction", "seed"});
  m.max_asks = r.integer("max_asks_per_donor", false, 1, 20).value_or(1);
  m.min_days = r.integer("min_days_since_last_ask", false, 0, 3650).value_or(0);
  auto seed = r.integer("seed", false, 0, INT64_MAX);
  std::vector<FieldError> errors = r.errors();
  if (const auto* h = member(body, "holdout_fraction")) {
    if (!h->IsNumber() || !(h->GetDouble() >= 0.0 && h->GetDouble() <= 0.9)) {
      errors.push_back({"holdout_fraction", "must be a number from 0 to 0.9"});
    } else {
      m.holdout_fraction = h->GetDouble();
    }
  }
  m.seed = seed ? static_cast<std::uint64_t>(*seed) : std::random_device{}() & 0x7fffffffULL;
  const auto* campaigns = member(body, "campaigns");
  if (!campaigns || !campaigns->IsArray() || campaigns->Empty() ||
      campaigns->Size() > kMaxCampaigns) {
    errors.push_back(
        {"campaigns", "must be a list of 1 to " + std::to_string(kMaxCampaigns) + " campaigns"});
  } else {
    for (rapidjson::SizeType i = 0; i < campaigns->Size(); ++i) {
      const std::string prefix = "campaigns[" + std::to_string(i) + "].";
      const auto& c = (*campaigns)[i];
      if (!c.IsObject()) {
        errors.push_back({prefix.substr(0, prefix.size() - 1), "must be an object"});
        continue;
      }
      FieldReader cr(c, prefix);
      cr.refuse_unknown({"campaign_ref", "target", "capacity", "cost_per_contact", "channel"});
      CampaignSpec spec;
      auto ref = cr.string("campaign_ref", true, 256);
      auto capacity = cr.integer("capacity", true, 1, 10'000'000);
      auto cost = cr.money("cost_per_contact", true, false);
      auto channel = cr.one_of("channel", {"post", "email", "phone", "sms"}, true);
      // Scores are stored under the target's name as scoring writes it (gabe/targets.hpp).
      const auto target = read_target(cr, c, "target", true);
      errors.insert(errors.end(), cr.errors().begin(), cr.errors().end());
      std::optional<std::string> name;
      if (target) name = target->name();
      if (cost && *cost < 0)
        errors.push_back({prefix + "cost_per_contact", "must not be negative"});
      if (ref && ref->empty()) errors.push_back({prefix + "campaign_ref", "must not be empty"});
      if (ref) {
        for (const auto& other : m.campaigns)
          if (other.ref == *ref) errors.push_back({prefix + "campaign_ref", "appears twice"});
      }
      if (ref && capacity && cost && channel && name)
        m.campaigns.push_back({*ref, *name, *channel, *capacity, *cost});
    }
  }
  if (!errors.empty()) throw unprocessable("The matching request is not valid.", errors);
  return m;
}

struct RefreshResult {
  std::int64_t refresh_id = 0;
  std::int64_t members = 0;
  std::int64_t added = 0;
  std::int64_t removed = 0;
  std::int64_t duration_ms = 0;
  std::string facts_as_of;
};

class SegmentsApi {
 public:
  explicit SegmentsApi(ServiceContext& ctx)
      : ctx_(ctx),
        job_seconds_(ctx.settings.integer("GABE_SEGMENTS_JOB_SECONDS")),
        facts_max_age_(ctx.settings.integer("GABE_SEGMENTS_FACTS_MAX_AGE")),
        // Refreshes, matching runs and whole-list exports of a million donors take longer
        // than the pool's 8 s per request: they run on a small pool of their own with
        // GABE_SEGMENTS_JOB_SECONDS as the limit.
        // Their sorts and hashes span every donor: a larger work_mem keeps them in memory.
        jobs_(
            ctx.settings.text("GABE_DATABASE_URL"), 4,
            [mb = ctx.settings.integer("GABE_SEGMENTS_JOB_WORK_MEM_MB")](pqxx::connection& c) {
              pqxx::nontransaction tx(c);
              tx.exec("SET work_mem = '" + std::to_string(mb) + "MB'");
            },
            db::Limits{std::chrono::milliseconds(2000),
                       std::chrono::milliseconds(job_seconds_ * 1000),
                       std::chrono::milliseconds(job_seconds_ * 1000),
                       std::chrono::milliseconds(job_seconds_ * 1000 + 2000)}),
        refresh_seconds_(ctx.metrics.histogram("gabe_segments_refresh_duration_seconds",
                                               "Duration of segment refreshes", {},
                                               {0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300})),
        match_seconds_(ctx.metrics.histogram("gabe_segments_matching_duration_seconds",
                                             "Duration of matching runs", {},
                                             {0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300})),
        exported_rows_(ctx.metrics.counter("gabe_segments_exported_rows_total",
                                           "Rows exported, by kind (segment, matching) and format",
                                           {"kind", "format"})),
        refresh_interval_(ctx.settings.integer("GABE_SEGMENTS_REFRESH_INTERVAL")) {
    if (refresh_interval_ > 0)
      scheduler_.start(
          std::chrono::seconds(refresh_interval_), "built-in segment refresh failed",
          [this] {
            refresh_builtins();
            return false;
          },
          PeriodicWorker::First::after_interval);
  }

  SegmentsApi(const SegmentsApi&) = delete;
  SegmentsApi& operator=(const SegmentsApi&) = delete;

  // --- segments ---

  http::Response create(http::Request& req) {
    const auto in = read_segment(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      auto rows =
          tx.exec_params(sql::kInsertSegment, in.name, in.description, in.rule_json, req.actor);
      if (rows.empty()) throw conflict("A segment with this name exists already.");
      record_audit(tx, ctx_.service, req.actor, "segment.create",
                   "segment:" + std::string(rows[0][0].c_str()), "{}");
      tx.commit();
      return http::json_response(201, rows[0][1].c_str());
    });
  }

  http::Response list(http::Request& req) {
    const auto page = Page::of(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      return paged_list(tx, sql::kSegmentList, page);
    });
  }

  http::Response get(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      auto rows = tx.exec_params(sql::kSegmentById, id);
      if (rows.empty()) throw not_found("No such segment.");
      return http::json_response(200, rows[0][0].c_str());
    });
  }

  http::Response update(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    const auto in = read_segment(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      lock_editable(tx, id);
      if (!tx.exec_params(sql::kNameTaken, in.name, id).empty())
        throw conflict("A segment with this name exists already.");
      auto rows = tx.exec_params(sql::kUpdateSegment, id, in.name, in.description, in.rule_json);
      record_audit(tx, ctx_.service, req.actor, "segment.update", "segment:" + std::to_string(id),
                   "{}");
      tx.commit();
      return http::json_response(200, rows[0][0].c_str());
    });
  }

  http::Response remove(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      lock_editable(tx, id);
      tx.exec_params(sql::kDeleteSegment, id);
      record_audit(tx, ctx_.service, req.actor, "segment.delete", "segment:" + std::to_string(id),
                   "{}");
      tx.commit();
    });
    JsonWriter w;
    w.begin_object().field("id", id).field("deleted", true).end_object();
    return http::json_response(200, w.take());
  }

  http::Response refresh(http::Request& req) {
    const auto r = refresh_segment(parse_id(req.param("id")), req.actor);
    JsonWriter w;
    w.begin_object()
        .field("members", r.members)
        .field("added", r.added)
        .field("removed", r.removed)
        .field("duration_ms", r.duration_ms)
        .field("refresh_id", r.refresh_id)
        .field("facts_as_of", r.facts_as_of)
        .end_object();
    return http::json_response(200, w.take());
  }

  http::Response history(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    const auto page = Page::of(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      if (tx.exec_params(sql::kSegmentExists, id).empty()) throw not_found("No such segment.");
      return paged_list(tx, sql::kRefreshHistory, page, id);
    });
  }

  http::Response fields(http::Request&) {
    JsonWriter w;
    w.begin_object().key("items").begin_array();
    for (const auto& f : kRequiredFeatures) {
      if (!f.rule_field) continue;
      w.begin_object()
          .field("name", f.name)
          .field("type", feature_type_name(f.type))
          .field("unit", f.unit)
          .field("description", f.description_en)
          .field("source", "catalogue")
          .end_object();
    }
    for (const auto& f : segment_attributes()) {
      w.begin_object()
          .field("name", f.name)
          .field("type", feature_type_name(f.type))
          .field("unit", f.type == FeatureType::days ? "days" : "")
          .field("description", f.description_en)
          .field("source", "segments")
          .end_object();
    }
    w.begin_object()
        .field("name", "score.<target>")
        .field("type", "number")
        .field("unit", "")
        .field("description", "The donor's current score for a scoring target, 0 to 1")
        .field("source", "scoring")
        .end_object();
    w.begin_object()
        .field("name", "decile.<target>")
        .field("type", "number")
        .field("unit", "")
        .field("description", "The donor's score decile for a target, 1 = highest scores")
        .field("source", "scoring")
        .end_object();
    w.end_array().end_object();
    return http::json_response(200, w.take());
  }

  // --- exports ---

  http::Response members(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    const auto format = req.query_enum("format", {"json", "csv"}).value_or("json");
    const auto channel = req.query_enum("channel", {"post", "email", "phone"});
    const auto cols = export_columns(channel);
    const std::string entity = "segment:" + std::to_string(id);
    if (format == "csv") {
      auto body = jobs_.run([&](pqxx::connection& c) {
        pqxx::work tx(c);
        if (tx.exec_params(sql::kSegmentExists, id).empty()) throw not_found("No such segment.");
        auto rows = tx.exec_params(sql::kMembers, id, channel, std::optional<std::int64_t>{},
                                   std::optional<std::int64_t>{});
        std::string out = csv_header(cols);
        for (const auto& row : rows) append_csv_row(out, row, cols);
        record_audit(tx, ctx_.service, req.actor, "segment.export", entity,
                     export_details(channel, format, rows.size()));
        tx.commit();
        exported_rows_.add({"segment", "csv"}, static_cast<double>(rows.size()));
        return out;
      });
      return csv_response(std::move(body), "segment-" + std::to_string(id) + ".csv");
    }
    const auto page = Page::of(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      if (tx.exec_params(sql::kSegmentExists, id).empty()) throw not_found("No such segment.");
      auto rows = tx.exec_params(sql::kMembers, id, channel, page.after,
                                 static_cast<std::int64_t>(page.limit + 1));
      PageWriter writer(page);
      std::size_t shown = 0;
      for (const auto& row : rows) {
        if (!writer.add(row[0].c_str(), item_json(row, cols))) break;
        ++shown;
      }
      record_audit(tx, ctx_.service, req.actor, "segment.export", entity,
                   export_details(channel, format, shown));
      tx.commit();
      exported_rows_.add({"segment", "json"}, static_cast<double>(shown));
      return http::json_response(200, writer.finish());
    });
  }

  // --- matching ---

  http::Response match(http::Request& req) {
    const auto m = read_match_request(req);
    const auto start = Clock::now();
    std::string body;
    jobs_.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      auto run = tx.exec_params(sql::kInsertRun, req.actor, m.to_json())[0];
      const auto run_id = run[0].as<std::int64_t>();
      const std::string today = run[1].c_str();
      db::ArrayLiteral refs, targets, channels, capacities, costs;
      std::vector<std::int64_t> caps;
      std::vector<std::string> ref_names;
      for (const auto& k : m.campaigns) {
        refs.add(k.ref);
        targets.add(k.target);
        channels.add(k.channel);
        capacities.add(k.capacity);
        costs.add(k.cost_cents);
        caps.push_back(k.capacity);
        ref_names.push_back(k.ref);
      }
      tx.exec_params(sql::kInsertRunCampaigns, run_id, refs.take(), targets.take(), channels.take(),
                     capacities.take(), costs.take());
      auto phase = Clock::now();
      tx.exec_params(sql::kEnsureFacts, facts_max_age_);
      const auto facts_ms = elapsed_ms(phase);
      // The distinct targets and channels, and for each combination the campaigns using it.
      std::vector<std::string> target_names, channel_names;
      const auto position = [](std::vector<std::string>& names, const std::string& name) {
        const auto it = std::find(names.begin(), names.end(), name);
        if (it != names.end()) return static_cast<std::size_t>(it - names.begin());
        names.push_back(name);
        return names.size() - 1;
      };
      std::vector<std::pair<std::size_t, std::size_t>> combination;  // per campaign
      for (const auto& k : m.campaigns)
        combination.emplace_back(position(target_names, k.target),
                                 position(channel_names, k.channel));
      std::vector<std::vector<std::size_t>> campaigns_of(target_names.size() *
                                                         channel_names.size());
      for (std::size_t k = 0; k < combination.size(); ++k)
        campaigns_of[combination[k].first * channel_names.size() + combination[k].second].push_back(
            k);
      db::ArrayLiteral distinct_targets, distinct_channels;
      for (const auto& t : target_names) distinct_targets.add(t);
      for (const auto& ch : channel_names) distinct_channels.add(ch);

      std::vector<Candidate> candidates;
      std::vector<double> scores;
      std::vector<std::int64_t> expected_gifts;
      phase = Clock::now();
      {
        const auto rows = tx.exec_params(sql::kCandidates, distinct_targets.take(),
                                         distinct_channels.take(), today, m.min_days);
        // At most one pair per campaign of the row's combination: room for all of them at
        // once (growing a vector of millions copies it and touches twice the memory).
        std::size_t widest = 0;
        for (const auto& ks : campaigns_of) widest = std::max(widest, ks.size());
        candidates.reserve(rows.size() * widest);
        scores.reserve(rows.size());
        expected_gifts.reserve(rows.size());
        for (std::size_t i = 0; i < rows.size(); ++i) {
          const auto& row = rows[i];
          // Millions of rows: plain C parsing of PostgreSQL's text output (libpqxx 6.4 parses
          // floating point through a stream, several times slower). PostgreSQL writes a
          // float8 exactly (its shortest round-trip form).
          const auto t = static_cast<std::size_t>(std::strtoull(row[0].c_str(), nullptr, 10));
          const auto ch = static_cast<std::size_t>(std::strtoull(row[1].c_str(), nullptr, 10));
          if (t < 1 || t > target_names.size() || ch < 1 || ch > channel_names.size()) continue;
          const std::int64_t donor = std::strtoll(row[2].c_str(), nullptr, 10);
          const double score = std::strtod(row[3].c_str(), nullptr);
          const double gift = std::strtod(row[4].c_str(), nullptr);
          const std::size_t tag = scores.size();
          bool kept = false;
          for (const auto k : campaigns_of[(t - 1) * channel_names.size() + (ch - 1)]) {
            // Expected net value in cents: score x expected gift - cost per contact.
            const double ev = score * gift - static_cast<double>(m.campaigns[k].cost_cents);
            if (!(ev > 0)) continue;
            candidates.push_back({donor, k, ev, tag});
            kept = true;
          }
          if (!kept) continue;
          scores.push_back(score);
          // As PostgreSQL's round() of a float8: to nearest, ties to even.
          expected_gifts.push_back(std::llrint(gift));
        }
      }
      const auto candidate_count = static_cast<std::int64_t>(candidates.size());
      const auto candidates_ms = elapsed_ms(phase);
      phase = Clock::now();
      auto result = greedy_match(std::move(candidates), caps, m.max_asks);
      draw_holdouts(result, ref_names, m.holdout_fraction, m.seed);
      const auto match_ms = elapsed_ms(phase);
      phase = Clock::now();

      std::vector<std::int64_t> treated(caps.size(), 0), held(caps.size(), 0);
      std::vector<double> value(caps.size(), 0);
      {
        pqxx::stream_to copy(
            tx, "segments.assignments",
            std::vector<std::string>{"run_id", "campaign_ref", "donor_id", "grp", "score",
                                     "expected_gift_cents", "expected_value_cents"});
        // The numbers go in as text formatted here: libpqxx 6.4 formats each value through a
        // stream, which cost more than the server's work for half a million rows. The shortest
        // round-trip form of the score reads back in PostgreSQL as the same double.
        const std::string run = std::to_string(run_id);
        const std::string holdout = "holdout", treatment = "treatment";
        std::string donor, score, gift, ev;
        for (const auto& a : result.assignments) {
          (a.holdout ? held : treated)[a.campaign] += 1;
          value[a.campaign] += a.holdout ? 0.0 : a.expected_value;
          number_text(donor, a.donor_id);
          number_text(score, scores[a.tag]);
          number_text(gift, expected_gifts[a.tag]);
          number_text(ev, static_cast<std::int64_t>(std::llround(a.expected_value)));
          copy << std::tie(run, ref_names[a.campaign], donor, a.holdout ? holdout : treatment,
                           score, gift, ev);
        }
        copy.complete();
      }
      const auto write_ms = elapsed_ms(phase);
      double total_value = 0;
      for (std::size_t k = 0; k < caps.size(); ++k) {
        tx.exec_params(sql::kFinishRunCampaign, run_id, ref_names[k], treated[k], held[k],
                       static_cast<std::int64_t>(std::llround(value[k])));
        total_value += value[k];
      }
      // The run's value and its bound both count every assignment, holdout included, so the gap
      // compares like with like; each campaign's value (above) counts its treated donors only.
      const auto ms = elapsed_ms(start);
      tx.exec_params(sql::kFinishRun, run_id, candidate_count,
                     static_cast<std::int64_t>(result.assignments.size()),
                     static_cast<std::int64_t>(std::llround(result.value)),
                     static_cast<std::int64_t>(std::llround(result.upper_bound)), ms);
      JsonWriter d;
      d.begin_object()
          .field("campaigns", static_cast<std::int64_t>(caps.size()))
          .field("assigned", static_cast<std::int64_t>(result.assignments.size()))
          .field("treatment_value", money_text(total_value))
          .end_object();
      record_audit(tx, ctx_.service, req.actor, "matching.run",
                   "matching_run:" + std::to_string(run_id), d.take());
      body = tx.exec_params(sql::kRunById, run_id)[0][0].c_str();
      tx.commit();
      log::info("matching run finished",
                {{"run_id", run_id},
                 {"candidates", candidate_count},
                 {"assigned", static_cast<std::int64_t>(result.assignments.size())},
                 {"facts_ms", facts_ms},
                 {"candidates_ms", candidates_ms},
                 {"match_ms", match_ms},
                 {"write_ms", write_ms},
                 {"duration_ms", ms}});
    });
    match_seconds_.observe({}, static_cast<double>(elapsed_ms(start)) / 1000.0);
    return http::json_response(201, body);
  }

  http::Response runs(http::Request& req) {
    const auto page = Page::of(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      return paged_list(tx, sql::kRunList, page);
    });
  }

  http::Response run(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      auto rows = tx.exec_params(sql::kRunById, id);
      if (rows.empty()) throw not_found("No such matching run.");
      return http::json_response(200, rows[0][0].c_str());
    });
  }

  http::Response assignments(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    const auto format = req.query_enum("format", {"json", "csv"}).value_or("json");
    const auto campaign = req.query_text("campaign_ref", 256);
    const std::string entity = "matching_run:" + std::to_string(id);
    auto details = [&](std::size_t rows) {
      return export_details(std::nullopt, format, rows, campaign);
    };
    if (format == "csv") {
      auto body = jobs_.run([&](pqxx::connection& c) {
        pqxx::work tx(c);
        if (tx.exec_params(sql::kRunExists, id).empty()) throw not_found("No such matching run.");
        auto rows = tx.exec_params(sql::kAssignments, id, campaign, std::optional<std::int64_t>{},
                                   std::optional<std::int64_t>{});
        std::string out = csv_header(kAssignmentColumns);
        for (const auto& row : rows) append_csv_row(out, row, kAssignmentColumns);
        record_audit(tx, ctx_.service, req.actor, "matching.export", entity, details(rows.size()));
        tx.commit();
        exported_rows_.add({"matching", "csv"}, static_cast<double>(rows.size()));
        return out;
      });
      return csv_response(std::move(body), "matching-run-" + std::to_string(id) + ".csv");
    }
    const auto page = Page::of(req);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      if (tx.exec_params(sql::kRunExists, id).empty()) throw not_found("No such matching run.");
      auto rows = tx.exec_params(sql::kAssignments, id, campaign, page.after,
                                 static_cast<std::int64_t>(page.limit + 1));
      PageWriter writer(page);
      std::size_t shown = 0;
      for (const auto& row : rows) {
        if (!writer.add(row[0].c_str(), item_json(row, kAssignmentColumns))) break;
        ++shown;
      }
      record_audit(tx, ctx_.service, req.actor, "matching.export", entity, details(shown));
      tx.commit();
      exported_rows_.add({"matching", "json"}, static_cast<double>(shown));
      return http::json_response(200, writer.finish());
    });
  }

  http::Response record_appeals(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    rapidjson::Document doc;
    const auto& body = body_object(req, doc);
    FieldReader r(body);
    r.refuse_unknown({"campaign_ref", "sent_on"});
    auto ref = r.string("campaign_ref", true, 256);
    auto sent_on = r.date("sent_on", true);
    r.throw_if_errors();
    auto recorded = ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      if (tx.exec_params(sql::kRunExists, id).empty()) throw not_found("No such matching run.");
      auto camp = tx.exec_params(sql::kLockRunCampaign, id, *ref);
      if (camp.empty())
        throw unprocessable("The run has no such campaign.",
                            {{"campaign_ref", "is not a campaign of this run"}});
      if (!camp[0][1].is_null() && camp[0][1].c_str() != *sent_on)
        throw conflict("The appeals of this campaign were recorded as sent on " +
                       std::string(camp[0][1].c_str()) + " already.");
      const auto n =
          tx.exec_params(sql::kRecordAppeals, id, *ref, *sent_on, camp[0][0].c_str())[0][0]
              .as<std::int64_t>();
      JsonWriter d;
      d.begin_object()
          .field("campaign_ref", *ref)
          .field("sent_on", *sent_on)
          .field("recorded", n)
          .end_object();
      record_audit(tx, ctx_.service, req.actor, "matching.record_appeals",
                   "matching_run:" + std::to_string(id), d.take());
      tx.commit();
      return n;
    });
    JsonWriter w;
    w.begin_object()
        .field("run_id", id)
        .field("campaign_ref", *ref)
        .field("sent_on", *sent_on)
        .field("recorded", recorded)
        .end_object();
    return http::json_response(200, w.take());
  }

  // --- results ---

  http::Response results(http::Request& req) {
    const std::string ref(req.param("ref"));
    const auto run_id = req.query_int("run_id", 1, INT64_MAX);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      auto run = tx.exec_params(sql::kResultsRun, ref, run_id);
      if (run.empty()) throw not_found("No matching run has assigned donors to this campaign.");
      const auto id = run[0][0].as<std::int64_t>();
      const std::string assigned_on = run[0][1].c_str();
      const auto cost_per_contact = run[0][2].as<std::int64_t>();
      GroupOutcome treatment, holdout;
      for (const auto& row : tx.exec_params(sql::kResults, id, ref, assigned_on)) {
        auto& g = std::string_view(row[0].c_str()) == "treatment" ? treatment : holdout;
        g = {row[1].as<std::int64_t>(), row[2].as<std::int64_t>(), row[3].as<std::int64_t>()};
      }
      return http::json_response(
          200, results_json(ref, id, treatment, holdout, treatment.donors * cost_per_contact));
    });
  }

 private:
  // One refresh, in one transaction on the job pool: rollups made fresh, membership replaced,
  // the refresh recorded in the segment's history.
  RefreshResult refresh_segment(std::int64_t id, const std::string& actor) {
    const auto start = Clock::now();
    RefreshResult r;
    jobs_.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      auto seg = tx.exec_params(sql::kLockSegment, id);
      if (seg.empty()) throw not_found("No such segment.");
      const auto doc = parse_json(seg[0][1].c_str());
      const auto rule = compile_rule(*doc);
      const auto facts_start = Clock::now();
      const auto facts = tx.exec_params(sql::kEnsureFacts, facts_max_age_)[0];
      r.facts_as_of = facts[0].c_str();
      const auto facts_ms = elapsed_ms(facts_start);
      r.refresh_id =
          tx.exec_params(sql::kStartRefresh, id, actor, r.facts_as_of)[0][0].as<std::int64_t>();
      db::ArrayLiteral values;
      for (const auto& v : rule.bound_values()) values.add(v);
      auto counts = tx.exec_params(sql::refresh_statement(member_query(rule)), values.take(), id,
                                   r.refresh_id)[0];
      r.members = counts[0].as<std::int64_t>();
      r.added = counts[1].as<std::int64_t>();
      r.removed = counts[2].as<std::int64_t>();
      r.duration_ms = elapsed_ms(start);
      tx.exec_params(sql::kFinishRefresh, r.refresh_id, r.members, r.added, r.removed,
                     r.duration_ms, id);
      tx.commit();
      log::info("segment refreshed", {{"segment_id", id},
                                      {"refresh_id", r.refresh_id},
                                      {"members", r.members},
                                      {"facts_rebuilt", facts[1].as<bool>()},
                                      {"facts_recomputed", facts[2].as<std::int64_t>()},
                                      {"facts_ms", facts_ms},
                                      {"duration_ms", r.duration_ms}});
    });
    refresh_seconds_.observe({}, static_cast<double>(elapsed_ms(start)) / 1000.0);
    return r;
  }

  // Keeps the built-in segments fresh: every GABE_SEGMENTS_REFRESH_INTERVAL seconds, the first
  // time one interval after start. A failure is logged and tried again next time.
  void refresh_builtins() {
    const auto start = Clock::now();
    std::int64_t refreshed = 0;
    try {
      const auto ids = jobs_.run([](pqxx::connection& c) {
        pqxx::nontransaction tx(c);
        std::vector<std::int64_t> out;
        for (const auto& row : tx.exec(sql::kBuiltinIds)) out.push_back(row[0].as<std::int64_t>());
        return out;
      });
      for (auto id : ids) {
        if (scheduler_.stopping()) break;
        refresh_segment(id, "scheduler");
        ++refreshed;
      }
      log::info("built-in segments refreshed",
                {{"segments", refreshed}, {"duration_ms", elapsed_ms(start)}});
    } catch (const std::exception& e) {
      log::warn("built-in segment refresh failed",
                {{"refreshed", refreshed}, {"kind", typeid(e).name()}});
    }
  }

  static void lock_editable(pqxx::work& tx, std::int64_t id) {
    auto seg = tx.exec_params(sql::kLockSegment, id);
    if (seg.empty()) throw not_found("No such segment.");
    if (seg[0][0].as<bool>())
      throw conflict("Built-in segments are read-only; create a segment of your own instead.");
  }

  static std::string csv_header(std::span<const Column> cols) {
    std::string out;
    for (std::size_t i = 0; i < cols.size(); ++i) {
      if (i > 0) out += ',';
      out += cols[i].name;
    }
    return out + "\r\n";
  }

  static void append_csv_row(std::string& out, const pqxx::row& row, std::span<const Column> cols) {
    for (std::size_t i = 0; i < cols.size(); ++i) {
      if (i > 0) out += ',';
      const auto& f = row[cols[i].index];
      if (!f.is_null()) append_csv_field(out, f.c_str());
    }
    out += "\r\n";
  }

  // One export row as a JSON object: the first column (the donor id) a number, the others
  // text or null.
  static std::string item_json(const pqxx::row& row, std::span<const Column> cols) {
    JsonWriter w;
    w.begin_object();
    for (std::size_t i = 0; i < cols.size(); ++i) {
      const auto& f = row[cols[i].index];
      if (i == 0) {
        w.field(cols[i].name, f.as<std::int64_t>());
      } else {
        w.field(cols[i].name, text_or_null(f));
      }
    }
    w.end_object();
    return w.take();
  }

  ServiceContext& ctx_;
  long job_seconds_;
  long facts_max_age_;
  db::Pool jobs_;
  Histogram refresh_seconds_;
  Histogram match_seconds_;
  Counter exported_rows_;
  long refresh_interval_;
  PeriodicWorker scheduler_;  // last: started once everything it uses exists
};

}  // namespace

void register_routes(ServiceContext& ctx) {
  auto api = std::make_shared<SegmentsApi>(ctx);
  using M = http::Method;
  auto& r = ctx.router;
  auto bind = [api](http::Response (SegmentsApi::*fn)(http::Request&)) {
    return [api, fn](http::Request& q) { return ((*api).*fn)(q); };
  };
  r.add(M::get, "/v1/segments", Role::viewer, bind(&SegmentsApi::list));
  r.add(M::post, "/v1/segments", Role::fundraiser, bind(&SegmentsApi::create));
  r.add(M::get, "/v1/segments/fields", Role::viewer, bind(&SegmentsApi::fields));
  r.add(M::get, "/v1/segments/{id}", Role::viewer, bind(&SegmentsApi::get));
  r.add(M::put, "/v1/segments/{id}", Role::fundraiser, bind(&SegmentsApi::update));
  r.add(M::del, "/v1/segments/{id}", Role::fundraiser, bind(&SegmentsApi::remove));
  r.add(M::post, "/v1/segments/{id}/refresh", Role::fundraiser, bind(&SegmentsApi::refresh));
  r.add(M::get, "/v1/segments/{id}/refreshes", Role::viewer, bind(&SegmentsApi::history));
  r.add(M::get, "/v1/segments/{id}/members", Role::fundraiser, bind(&SegmentsApi::members));
  r.add(M::post, "/v1/matching/runs", Role::fundraiser, bind(&SegmentsApi::match));
  r.add(M::get, "/v1/matching/runs", Role::viewer, bind(&SegmentsApi::runs));
  r.add(M::get, "/v1/matching/runs/{id}", Role::viewer, bind(&SegmentsApi::run));
  r.add(M::get, "/v1/matching/runs/{id}/assignments", Role::fundraiser,
        bind(&SegmentsApi::assignments));
  r.add(M::post, "/v1/matching/runs/{id}/record-appeals", Role::fundraiser,
        bind(&SegmentsApi::record_appeals));
  r.add(M::get, "/v1/campaigns/{ref}/results", Role::viewer, bind(&SegmentsApi::results));
}

}  // namespace gabe::segments
