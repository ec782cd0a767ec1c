// The scoring API: each handler turns a request into calls of the domain code (targets,
// training, runs, reasons) and the store.
#include "handlers.hpp"

#include <cmath>
#include <memory>

#include "features.hpp"
#include "gabe/card_html.hpp"
#include "gabe/json.hpp"
#include "jobs.hpp"
#include "lru_cache.hpp"
#include "queries.hpp"
#include "reasons.hpp"
#include "runs.hpp"
#include "training.hpp"

namespace gabe::scoring {

namespace {

constexpr const char* kDonorScoresStatement = "scoring_donor_scores";
constexpr const char* kDonorExistsStatement = "scoring_donor_exists";
// Loaded models kept for GET /v1/runs/{id}/scores?reasons=all: the few a fundraiser looks at.
constexpr std::size_t kLoadedModelsKept = 4;

std::vector<float> split_floats(const char* text) {
  std::vector<float> out;
  for (double d : parse_numbers(text)) out.push_back(static_cast<float>(d));
  return out;
}

// RFC 4180: quoted when it holds a comma, quote or line break.
void csv_field(std::string& out, std::string_view v) {
  if (v.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += v;
    return;
  }
  out += '"';
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  return buf;
}

// The day of an as_of text read with FieldReader::date, its errors collected in `r`: a day that
// is not in the future.
std::optional<Day> check_as_of(FieldReader& r, const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  const auto as_of = parse_day(*text);
  if (!as_of)
    r.add_error("as_of", "must be a date from 1900-01-01 to 2199-12-31");
  else if (*as_of > today_berlin())
    r.add_error("as_of", "must not be in the future");
  return as_of;
}

// 202 for work handed to the worker: {"<key>": id, "status": status} and its location.
http::Response accepted(std::string_view key, std::int64_t id, std::string_view status,
                        const std::string& collection) {
  JsonWriter w;
  w.begin_object().field(key, id).field("status", status).end_object();
  auto resp = http::json_response(202, w.take());
  resp.headers.emplace_back("location", collection + "/" + std::to_string(id));
  return resp;
}

class ScoringApi {
 public:
  explicit ScoringApi(ServiceContext& ctx, std::optional<Cron> schedule)
      : ctx_(ctx),
        worker_(
            ctx.settings.text("GABE_DATABASE_URL"),
            RunOptions{static_cast<int>(ctx.settings.integer("GABE_SCORING_THREADS")),
                       static_cast<std::size_t>(ctx.settings.integer("GABE_SCORING_BATCH_SIZE"))},
            std::move(schedule),
            RunMetrics{ctx.metrics.gauge("gabe_scoring_last_success_timestamp_seconds",
                                         "When the latest successful run of a target finished",
                                         {"target"}),
                       ctx.metrics.gauge("gabe_scoring_run_duration_seconds",
                                         "How long the latest successful run of a target took",
                                         {"target"}),
                       ctx.metrics.gauge(
                           "gabe_scoring_drift_psi",
                           "Population stability index of the latest run against the one before",
                           {"target"}),
                       ctx.metrics.gauge("gabe_scoring_donors_scored",
                                         "Donors scored by the latest successful run of a target",
                                         {"target"})}) {}

  http::Response features(http::Request& req) {
    const bool de = req.language() == Language::de;
    JsonWriter w;
    w.begin_object().key("items").begin_array();
    const auto add = [&](const FeatureInfo& f) {
      w.begin_object()
          .field("name", f.name)
          .field("type", feature_type_name(f.type))
          .field("unit", f.unit)
          .field("description", de ? f.description_de : f.description_en)
          .field("model_feature", f.model_feature)
          .field("rule_field", f.rule_field)
          .end_object();
    };
    for (const auto& f : kRequiredFeatures) add(f);
    for (const auto& f : kBehaviouralFeatures) add(f);
    w.end_array().field("next", std::optional<std::string>());
    w.key("never_features").begin_array();
    for (auto n : kNeverFeatures) w.value(n);
    w.end_array();
    w.field(
        "never_features_note",
        de ? "Geschützte Merkmale und naheliegende Stellvertreter sind nie Merkmale eines Modells."
           : "Protected attributes and their obvious proxies are never model features.");
    w.end_object();
    return http::json_response(200, w.take());
  }

  http::Response create_model(http::Request& req) {
    req.require_json();
    auto doc = parse_json(req.body);
    if (!doc->IsObject()) throw bad_request("The body must be a JSON object.");
    FieldReader r(*doc);
    r.refuse_unknown({"target", "as_of", "params"});
    const auto target = read_target(r, *doc, "target", true);
    const auto as_of_text = r.date("as_of", true);
    std::optional<TrainParams> params;
    try {
      params = TrainParams::from_json(member(*doc, "params"));
    } catch (const Problem& p) {
      for (const auto& e : p.errors()) r.add_error(e.field, e.message);
    }
    const auto as_of = check_as_of(r, as_of_text);
    r.throw_if_errors();
    const auto id = ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      const auto model_id = scoring::create_model(tx, *target, *as_of, *params, req.actor);
      tx.commit();
      return model_id;
    });
    worker_.train(id);
    return accepted("model_id", id, "training", "/v1/models");
  }

  http::Response list_models(http::Request& req) {
    const auto page = Page::of(req);
    const auto target = target_filter(req);
    const auto status =
        req.query_enum("status", {"training", "ready", "failed", "active", "retired"});
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      return paged_list(tx, sql::kModelList, page, target, status);
    });
  }

  // The JSON document that `query` makes of the row `id`; 404 with `missing` when there is none.
  std::string json_by_id(const std::string& query, std::int64_t id, const char* missing) {
    auto text = ctx_.pool.run([&](pqxx::connection& c) -> std::optional<std::string> {
      pqxx::nontransaction tx(c);
      auto rows = tx.exec_params(query, id);
      if (rows.empty()) return std::nullopt;
      return std::string(rows[0][0].c_str());
    });
    if (!text) throw not_found(missing);
    return *text;
  }

  std::string model_json(std::int64_t id) {
    return json_by_id(sql::kModelJson, id, "No such model.");
  }

  http::Response model(http::Request& req) {
    return http::json_response(200, model_json(parse_id(req.param("id"))));
  }

  http::Response card_html(http::Request& req) {
    const auto text = model_json(parse_id(req.param("id")));
    // Our own JSON from the database: read with full precision (parse_json is for client input).
    rapidjson::Document doc;
    doc.Parse<rapidjson::kParseFullPrecisionFlag>(text.c_str(), text.size());
    if (doc.HasParseError()) throw internal_error();
    http::Response r;
    r.content_type = "text/html; charset=utf-8";
    r.body = render_card_html(doc, req.language() == Language::de ? "de" : "en");
    r.headers.emplace_back("content-security-policy",
                           "default-src 'none'; style-src 'unsafe-inline'; img-src data:");
    return r;
  }

  http::Response activate(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    req.require_json();
    auto doc = parse_json(req.body);
    if (!doc->IsObject()) throw bad_request("The body must be a JSON object.");
    FieldReader r(*doc);
    r.refuse_unknown({"reason", "override_fairness"});
    auto reason = r.string("reason", true, 1000);
    if (reason && reason->find_first_not_of(" \t\r\n") == std::string::npos)
      r.add_error("reason", "must say why the model is activated");
    const bool override_fairness = r.boolean("override_fairness").value_or(false);
    r.throw_if_errors();
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      auto rows = tx.exec_params(sql::kModelForActivation, id);
      if (rows.empty()) throw not_found("No such model.");
      const std::string status = rows[0][0].c_str();
      const std::string target = rows[0][1].c_str();
      if (status == "active") throw conflict("The model is already active.");
      if (status != "ready" && status != "retired")
        throw conflict("Only a trained model (ready or retired) can be activated; this one is " +
                       status + ".");
      const bool fair = rows[0][2].is_null() || rows[0][2].as<bool>();
      if (!fair && !override_fairness)
        throw conflict(
            "The model fails the four-fifths rule of its fairness report. Activate it only with "
            "\"override_fairness\": true and a reason.");
      std::optional<std::int64_t> previous;
      if (auto retired = tx.exec_params(sql::kRetireActive, target); !retired.empty())
        previous = retired[0][0].as<std::int64_t>();
      tx.exec_params(sql::kActivate, id, req.actor, *reason, override_fairness && !fair);
      JsonWriter d;
      d.begin_object()
          .field("reason", *reason)
          .field("target", target)
          .field("fairness_passed", fair)
          .field("override_fairness", override_fairness && !fair)
          .field("retired_model_id", previous)
          .end_object();
      record_audit(tx, ctx_.service, req.actor, "model.activate", "model:" + std::to_string(id),
                   d.take());
      auto body = tx.exec_params(sql::kModelJson, id)[0][0];
      std::string out = body.c_str();
      tx.commit();
      return http::json_response(200, out);
    });
  }

  http::Response create_run(http::Request& req) {
    req.require_json();
    auto doc = parse_json(req.body);
    if (!doc->IsObject()) throw bad_request("The body must be a JSON object.");
    FieldReader r(*doc);
    r.refuse_unknown({"model_id", "target", "as_of"});
    const auto model_id = r.integer("model_id", false, 1, INT32_MAX);
    const auto target = read_target(r, *doc);
    if (!model_id && !target && r.ok()) r.add_error("model_id", "model_id or target is required");
    const auto as_of_text = r.date("as_of");
    const auto as_of = as_of_text ? check_as_of(r, as_of_text) : today_berlin();
    r.throw_if_errors();
    const auto run_id = ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::work tx(c);
      std::int64_t model = model_id.value_or(0);
      if (!model_id) {
        auto rows = tx.exec_params(sql::kActiveModel, target->name());
        if (rows.empty()) throw conflict("Target " + target->name() + " has no active model.");
        model = rows[0][0].as<std::int64_t>();
      }
      const auto id = scoring::create_run(tx, model, *as_of, 1, RunTrigger::api, req.actor);
      tx.commit();
      return id;
    });
    worker_.run(run_id);
    return accepted("run_id", run_id, "queued", "/v1/runs");
  }

  http::Response list_runs(http::Request& req) {
    const auto page = Page::of(req);
    const auto target = target_filter(req);
    const auto status = req.query_enum("status", {"queued", "running", "succeeded", "failed"});
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      return paged_list(tx, sql::kRunList, page, target, status);
    });
  }

  http::Response run(http::Request& req) {
    return http::json_response(
        200, json_by_id(sql::kRunJson, parse_id(req.param("id")), "No such run."));
  }

  http::Response run_scores(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    const auto format = req.query_enum("format", {"csv", "json"}).value_or("json");
    const bool all = req.query_enum("reasons", {"top", "all"}).value_or("top") == "all";
    if (all && format == "csv")
      throw unprocessable("The request contains invalid fields.",
                          {{"reasons", "reasons=all is available with format=json only"}});
    const auto header = ctx_.pool.run(
        [&](pqxx::connection& c) -> std::optional<std::pair<std::string, std::int64_t>> {
          pqxx::nontransaction tx(c);
          auto rows = tx.exec_params(sql::kRunHeader, id);
          if (rows.empty()) return std::nullopt;
          return std::pair(std::string(rows[0][0].c_str()), rows[0][1].as<std::int64_t>());
        });
    if (!header) throw not_found("No such run.");
    if (header->first != "succeeded")
      throw conflict("The run has not succeeded (it is " + header->first +
                     "); it has no scores to show.");
    const auto lang = req.language();
    if (format == "csv") return scores_csv(id);
    const auto page = Page::of(req);
    std::shared_ptr<const LoadedModel> model;
    if (all) model = model_for(header->second);
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      auto rows = tx.exec_params(sql::kRunScores, id, page.after, page.limit + 1);
      PageWriter out(page);
      const auto& names = model_features();
      const std::size_t columns = names.size();
      std::vector<double> contribs(columns + 1);
      for (const auto& r : rows) {
        JsonWriter w;
        const auto features = split_floats(r[6].c_str());
        w.begin_object()
            .field("donor_id", r[0].as<std::int64_t>())
            .field("source", r[1].c_str())
            .field("ref", r[2].is_null() ? std::optional<std::string>()
                                         : std::optional<std::string>(r[2].c_str()))
            .field("score", r[3].as<double>())
            .field("decile", r[4].as<int>());
        write_reasons(w, parse_numbers(r[7].c_str()), parse_numbers(r[8].c_str()), lang,
                      [&](std::size_t /*k*/, std::size_t f) -> std::optional<float> {
                        if (f >= features.size()) return std::nullopt;
                        return features[f];
                      });
        if (all && features.size() == columns) {
          model->forest.contributions(features.data(), 1, contribs.data());
          w.field("margin", r[5].as<double>()).field("bias", contribs[columns]);
          w.key("contributions").begin_object();
          for (std::size_t f = 0; f < columns; ++f) w.field(names[f]->name, contribs[f]);
          w.end_object();
        }
        w.end_object();
        if (!out.add(r[0].c_str(), w.take())) break;
      }
      return http::json_response(200, out.finish());
    });
  }

  http::Response donor_scores(http::Request& req) {
    const auto id = parse_id(req.param("id"));
    const auto lang = req.language();
    return ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      auto rows = tx.exec_prepared(kDonorScoresStatement, id);
      if (rows.empty() && tx.exec_prepared(kDonorExistsStatement, id).empty())
        throw not_found("No such donor.");
      JsonWriter w;
      w.begin_object().field("donor_id", id).key("scores").begin_array();
      for (const auto& r : rows) {
        w.begin_object()
            .field("target", r[0].c_str())
            .field("model_id", r[1].as<std::int64_t>())
            .field("run_id", r[2].as<std::int64_t>())
            .field("as_of", r[3].is_null() ? std::optional<std::string>()
                                           : std::optional<std::string>(r[3].c_str()))
            .field("score", r[4].as<double>())
            .field("decile", r[5].as<int>())
            .field("scored_at", r[9].c_str());
        // The reasons' feature values, one per reason (current_scores.reason_values).
        const auto values = parse_numbers(r[6].c_str());
        write_reasons(w, parse_numbers(r[7].c_str()), parse_numbers(r[8].c_str()), lang,
                      [&](std::size_t k, std::size_t /*f*/) -> std::optional<float> {
                        if (k >= values.size()) return std::nullopt;
                        return static_cast<float>(values[k]);
                      });
        w.end_object();
      }
      w.end_array().end_object();
      return http::json_response(200, w.take());
    });
  }

 private:
  std::optional<std::string> target_filter(const http::Request& req) {
    auto t = req.query_text("target", 64);
    if (!t) return t;
    try {
      return parse_target_name(*t, "target").name();
    } catch (const Problem&) {
      throw unprocessable("The request contains invalid fields.",
                          {{"target", "must be a target name such as give_90d or lapse_180d"}});
    }
  }

  // The reasons: feature indices `idx` with their contributions `con`; value_of(k, f) is the
  // value of reason k's feature f, none when it is unknown (the reason is left out).
  template <typename ValueOf>
  static void write_reasons(JsonWriter& w, const std::vector<double>& idx,
                            const std::vector<double>& con, Language lang,
                            const ValueOf& value_of) {
    w.key("reasons").begin_array();
    for (std::size_t k = 0; k < idx.size() && k < con.size(); ++k) {
      const auto f = static_cast<std::size_t>(idx[k]);
      if (f >= model_features().size()) continue;
      const std::optional<float> value = value_of(k, f);
      if (!value) continue;
      w.begin_object().field("feature", model_features()[f]->name).key("value");
      write_feature_value(w, *value);
      w.field("contribution", con[k])
          .field("text", reason_text(f, *value, con[k], lang))
          .end_object();
    }
    w.end_array();
  }

  // The whole list as RFC 4180 CSV, read in keyset pages so that no statement runs long.
  http::Response scores_csv(std::int64_t run_id) {
    http::Response resp;
    resp.content_type = "text/csv; charset=utf-8; header=present";
    resp.headers.emplace_back("content-disposition", "attachment; filename=\"scores-run-" +
                                                         std::to_string(run_id) + ".csv\"");
    std::string& out = resp.body;
    out = "donor_id,source,ref,score,decile,reason_1,reason_2,reason_3\r\n";
    std::optional<std::int64_t> after;
    const long chunk = 20000;
    for (;;) {
      const auto count = ctx_.pool.run([&](pqxx::connection& c) {
        pqxx::nontransaction tx(c);
        auto rows = tx.exec_params(sql::kRunScores, run_id, after, chunk);
        for (const auto& r : rows) {
          out += r[0].c_str();
          out += ',';
          csv_field(out, r[1].c_str());
          out += ',';
          if (!r[2].is_null()) csv_field(out, r[2].c_str());
          out += ',';
          out += number_text(r[3].as<double>());
          out += ',';
          out += r[4].c_str();
          const auto idx = parse_numbers(r[7].c_str());
          for (std::size_t k = 0; k < 3; ++k) {
            out += ',';
            if (k < idx.size() && static_cast<std::size_t>(idx[k]) < model_features().size())
              out += model_features()[static_cast<std::size_t>(idx[k])]->name;
          }
          out += "\r\n";
          after = r[0].as<std::int64_t>();
        }
        return rows.size();
      });
      if (count < static_cast<std::size_t>(chunk)) break;
    }
    return resp;
  }

  std::shared_ptr<const LoadedModel> model_for(std::int64_t model_id) {
    if (auto kept = models_.find(model_id)) return *kept;
    auto loaded = ctx_.pool.run([&](pqxx::connection& c) {
      pqxx::nontransaction tx(c);
      return std::make_shared<const LoadedModel>(load_model(tx, model_id));
    });
    return models_.insert(model_id, std::move(loaded));
  }

  ServiceContext& ctx_;
  LruCache<std::int64_t, std::shared_ptr<const LoadedModel>> models_{kLoadedModelsKept};
  Worker worker_;  // last: stops first
};

}  // namespace

void prepare_connection(pqxx::connection& conn) {
  conn.prepare(kDonorScoresStatement, sql::kDonorScores);
  conn.prepare(kDonorExistsStatement, sql::kDonorExists);
}

void register_routes(ServiceContext& ctx) {
  std::optional<Cron> schedule;
  if (const auto& text = ctx.settings.text("GABE_SCORING_SCHEDULE"); text != "off") {
    auto parsed = parse_cron(text);
    if (!parsed) throw ConfigError("GABE_SCORING_SCHEDULE: " + parsed.error().message);
    schedule = *parsed;
  }
  auto api = std::make_shared<ScoringApi>(ctx, std::move(schedule));
  using M = http::Method;
  auto& r = ctx.router;
  r.add(M::get, "/v1/features", Role::viewer, [api](http::Request& q) { return api->features(q); });
  r.add(M::post, "/v1/models", Role::admin,
        [api](http::Request& q) { return api->create_model(q); });
  r.add(M::get, "/v1/models", Role::viewer,
        [api](http::Request& q) { return api->list_models(q); });
  r.add(M::get, "/v1/models/{id}", Role::viewer, [api](http::Request& q) { return api->model(q); });
  r.add(M::get, "/v1/models/{id}/card.html", Role::viewer,
        [api](http::Request& q) { return api->card_html(q); });
  r.add(M::post, "/v1/models/{id}/activate", Role::admin,
        [api](http::Request& q) { return api->activate(q); });
  r.add(M::post, "/v1/runs", Role::admin, [api](http::Request& q) { return api->create_run(q); });
  r.add(M::get, "/v1/runs", Role::viewer, [api](http::Request& q) { return api->list_runs(q); });
  r.add(M::get, "/v1/runs/{id}", Role::viewer, [api](http::Request& q) { return api->run(q); });
  r.add(M::get, "/v1/runs/{id}/scores", Role::fundraiser,
        [api](http::Request& q) { return api->run_scores(q); });
  r.add(M::get, "/v1/donors/{id}/scores", Role::viewer,
        [api](http::Request& q) { return api->donor_scores(q); });
}

}  // namespace gabe::scoring
