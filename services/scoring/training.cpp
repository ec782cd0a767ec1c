#include "training.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <stdexcept>

#include "evaluation.hpp"
#include "features.hpp"
#include "gabe/crypto.hpp"
#include "gabe/fairness.hpp"
#include "history.hpp"
#include "xgb.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace gabe::scoring {

namespace {

struct Examples {
  std::vector<float> x;
  std::vector<float> y;
  std::vector<std::int64_t> donor;
  std::vector<int> window;
  std::vector<std::uint64_t> hash;  // training rows: what the sample keeps by
  std::size_t rows() const { return y.size(); }
};

struct Window {
  Day cutoff = 0;
  std::size_t examples = 0;
  std::size_t positives = 0;
};

std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

// Keeps the `k` rows with the smallest hashes, in their order: the same rows whatever order
// or batch they came in, so the sample is a function of the history alone.
void keep_smallest(Examples& e, std::size_t k, std::size_t columns) {
  if (e.rows() <= k) return;
  std::vector<std::uint64_t> sorted = e.hash;
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(k - 1),
                   sorted.end());
  const std::uint64_t limit = sorted[k - 1];
  std::size_t out = 0;
  for (std::size_t i = 0; i < e.rows(); ++i) {
    if (e.hash[i] > limit) continue;
    if (out != i) {
      std::copy_n(e.x.begin() + static_cast<std::ptrdiff_t>(i * columns), columns,
                  e.x.begin() + static_cast<std::ptrdiff_t>(out * columns));
      e.y[out] = e.y[i];
      e.donor[out] = e.donor[i];
      e.window[out] = e.window[i];
      e.hash[out] = e.hash[i];
    }
    ++out;
  }
  e.x.resize(out * columns);
  e.y.resize(out);
  e.donor.resize(out);
  e.window.resize(out);
  e.hash.resize(out);
}

// The logloss figure of an evaluation line "[3]\tvalid-logloss:0.41".
double eval_value(const std::string& line) {
  const auto colon = line.rfind(':');
  if (colon == std::string::npos) throw std::runtime_error("unexpected evaluation: " + line);
  return std::strtod(line.c_str() + colon + 1, nullptr);
}

std::string fmt(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

}  // namespace

TrainedModel train_model(pqxx::transaction_base& tx, const Target& target, Day as_of,
                         const TrainParams& params,
                         const std::function<void(const std::string&)>& progress,
                         const std::atomic<bool>* stop) {
  const auto check_stop = [stop] {
    if (stop != nullptr && stop->load(std::memory_order_relaxed))
      throw std::runtime_error("interrupted: the service stopped during training");
  };
  const auto say = [&](const std::string& phase) {
    if (progress) progress(phase);
  };
  const std::size_t columns = feature_count();
  std::vector<Window> windows(static_cast<std::size_t>(params.windows) + 1);
  for (std::size_t k = 0; k < windows.size(); ++k)
    windows[k].cutoff =
        as_of - static_cast<Day>((k + 1) * static_cast<std::size_t>(target.horizon_days));

  say("features");
  const auto max_rows = static_cast<std::size_t>(params.max_training_rows);
  Examples train, valid;
  std::vector<float> row(columns);
  for_each_donor(tx, as_of, Shard{}, [&](const DonorHistory& h, const DonorState& state) {
    check_stop();
    if (state.erased || state.profiling_objection) return;
    for (std::size_t k = 0; k < windows.size(); ++k) {
      if (!eligible(h, target, windows[k].cutoff)) continue;
      compute_features(h, windows[k].cutoff, row.data());
      const bool y = label(h, target, windows[k].cutoff);
      auto& ex = k == 0 ? valid : train;
      ex.x.insert(ex.x.end(), row.begin(), row.end());
      ex.y.push_back(y ? 1.0F : 0.0F);
      ex.donor.push_back(h.donor_id);
      ex.window.push_back(static_cast<int>(k));
      if (k > 0) {
        ex.hash.push_back(mix(static_cast<std::uint64_t>(h.donor_id) * 64 + k));
        // A very large history is sampled as it streams past, so memory stays bounded.
        if (ex.rows() >= 2 * max_rows) keep_smallest(ex, max_rows, columns);
      }
      ++windows[k].examples;
      windows[k].positives += y ? 1 : 0;
    }
  });
  const auto audit = load_audit_attributes(tx);

  const auto positives = [](const Examples& e) {
    return static_cast<std::size_t>(std::count(e.y.begin(), e.y.end(), 1.0F));
  };
  if (train.rows() < 50 || valid.rows() < 20)
    throw std::runtime_error("Not enough history before " + format_day(as_of) + ": " +
                             std::to_string(train.rows()) + " training and " +
                             std::to_string(valid.rows()) +
                             " validation examples (at least 50 and 20 are needed).");
  if (positives(train) == 0 || positives(train) == train.rows() || positives(valid) == 0 ||
      positives(valid) == valid.rows())
    throw std::runtime_error(
        "The history has only one outcome in a window (everybody or nobody gave): no model can "
        "be learnt from it.");

  // A very large history is sampled: the rows with the smallest hashes of donor and window,
  // the same rows every time.
  keep_smallest(train, max_rows, columns);

  say("training");
  xgb::Matrix dtrain(train.x.data(), train.rows(), columns);
  dtrain.set_labels(train.y);
  xgb::Matrix dvalid(valid.x.data(), valid.rows(), columns);
  dvalid.set_labels(valid.y);
  xgb::Booster booster({&dtrain, &dvalid});
  booster.set_param("objective", "binary:logistic");
  booster.set_param("eval_metric", "logloss");
  booster.set_param("tree_method", "hist");
  booster.set_param("max_depth", std::to_string(params.max_depth));
  booster.set_param("eta", fmt(params.eta));
  booster.set_param("min_child_weight", fmt(params.min_child_weight));
  booster.set_param("subsample", fmt(params.subsample));
  booster.set_param("colsample_bytree", fmt(params.colsample_bytree));
  booster.set_param("lambda", fmt(params.lambda));
  booster.set_param("seed", std::to_string(params.seed));
  booster.set_param("nthread", std::to_string(params.nthread));
  booster.set_param("base_score", "0.5");
  booster.set_param("verbosity", "0");
  double best = INFINITY;
  int best_round = 0;
  for (int round = 0; round < params.max_rounds; ++round) {
    check_stop();
    booster.update(round, dtrain);
    const double loss = eval_value(booster.eval(round, dvalid, "valid"));
    if (loss < best - 1e-12) {
      best = loss;
      best_round = round;
    } else if (round - best_round >= params.early_stopping_rounds) {
      break;
    }
  }
  const int trees = best_round + 1;
  auto model = booster.slice(trees);

  say("evaluating");
  const auto probs_f = model.predict(dvalid, 0);
  std::vector<double> probs(probs_f.begin(), probs_f.end());
  std::vector<std::uint8_t> labels(valid.rows());
  for (std::size_t i = 0; i < labels.size(); ++i) labels[i] = valid.y[i] > 0.5F ? 1 : 0;
  const auto col = [&](int index) {
    std::vector<double> v(valid.rows());
    for (std::size_t i = 0; i < v.size(); ++i) {
      const float x = valid.x[i * columns + static_cast<std::size_t>(index)];
      v[i] = std::isnan(x) ? 0.0 : x;
    }
    return v;
  };
  auto rfm = rfm_scores(col(feature_index("days_since_last_gift")),
                        col(feature_index("gift_count")), col(feature_index("gift_amount_total")));
  // A lapse is the opposite of what RFM ranks high.
  if (target.kind == TargetKind::lapse)
    for (auto& s : rfm) s = -s;

  // Global importance: mean |SHAP| over an evenly spread sample of the validation window.
  const std::size_t sample = std::min<std::size_t>(valid.rows(), 5000);
  std::vector<float> sample_x;
  sample_x.reserve(sample * columns);
  for (std::size_t s = 0; s < sample; ++s) {
    const std::size_t i = s * valid.rows() / sample;
    sample_x.insert(sample_x.end(), valid.x.begin() + static_cast<std::ptrdiff_t>(i * columns),
                    valid.x.begin() + static_cast<std::ptrdiff_t>((i + 1) * columns));
  }
  xgb::Matrix dsample(sample_x.data(), sample, columns);
  const auto contribs = model.predict(dsample, 2);
  std::vector<double> importance(columns, 0.0);
  for (std::size_t s = 0; s < sample; ++s)
    for (std::size_t c = 0; c < columns; ++c)
      importance[c] += std::fabs(contribs[s * (columns + 1) + c]) / static_cast<double>(sample);
  std::vector<std::size_t> by_importance(columns);
  for (std::size_t c = 0; c < columns; ++c) by_importance[c] = c;
  std::stable_sort(by_importance.begin(), by_importance.end(),
                   [&](std::size_t a, std::size_t b) { return importance[a] > importance[b]; });

  // Fairness on the validation window, by the optional audit attributes.
  FairnessInput fin;
  fin.scores = probs;
  fin.labels = labels;
  AuditAttribute gender{"gender", {}}, age{"age_band", {}};
  for (std::size_t i = 0; i < valid.rows(); ++i) {
    auto it = audit.find(valid.donor[i]);
    gender.groups.push_back(it == audit.end() ? std::nullopt : it->second.gender);
    age.groups.push_back(it == audit.end() ? std::nullopt : it->second.age_band);
  }
  fin.attributes = {std::move(gender), std::move(age)};
  const auto report = fairness_report(fin);

  TrainedModel out;
  out.model_bytes = model.save("ubj");
  out.sha256_hex = crypto::hex(crypto::sha256(out.model_bytes));
  out.fairness_passed = report.passes_four_fifths;

  JsonWriter w;
  w.begin_object();
  w.key("target").raw(target.to_json());
  w.field("as_of", format_day(as_of));
  w.field("model_sha256", out.sha256_hex);
  w.key("params").raw(params.to_json());
  w.key("features").begin_array();
  for (const auto* f : model_features()) w.value(f->name);
  w.end_array();
  w.key("excluded_attributes").begin_array();
  for (auto n : kNeverFeatures) w.value(n);
  w.end_array();
  w.key("windows").begin_object().key("training").begin_array();
  std::size_t train_examples = 0, train_pos = 0;
  for (std::size_t k = 1; k < windows.size(); ++k) {
    if (windows[k].examples == 0) continue;
    train_examples += windows[k].examples;
    train_pos += windows[k].positives;
    w.begin_object()
        .field("cutoff", format_day(windows[k].cutoff))
        .field("label_end", format_day(windows[k].cutoff + target.horizon_days))
        .field("examples", static_cast<std::int64_t>(windows[k].examples))
        .field("positives", static_cast<std::int64_t>(windows[k].positives))
        .end_object();
  }
  w.end_array()
      .key("validation")
      .begin_object()
      .field("cutoff", format_day(windows[0].cutoff))
      .field("label_end", format_day(windows[0].cutoff + target.horizon_days))
      .field("examples", static_cast<std::int64_t>(windows[0].examples))
      .field("positives", static_cast<std::int64_t>(windows[0].positives))
      .end_object()
      .end_object();
  w.key("sizes")
      .begin_object()
      .field("training_examples", static_cast<std::int64_t>(train_examples))
      .field("training_positives", static_cast<std::int64_t>(train_pos))
      .field("training_rows_used", static_cast<std::int64_t>(train.rows()))
      .field("validation_examples", static_cast<std::int64_t>(valid.rows()))
      .field("validation_positives", static_cast<std::int64_t>(positives(valid)))
      .field("trees", trees)
      .field("best_iteration", best_round)
      .end_object();
  const double base_rate =
      static_cast<double>(positives(valid)) / static_cast<double>(valid.rows());
  w.key("metrics")
      .begin_object()
      .field("auc", roc_auc(probs, labels))
      .field("pr_auc", pr_auc(probs, labels))
      .field("logloss", log_loss(probs, labels))
      .field("brier", brier(probs, labels))
      .field("top_decile_lift", top_decile_lift(probs, labels))
      .field("base_rate", base_rate)
      .field("rfm_baseline_auc", roc_auc(rfm, labels));
  w.key("calibration").begin_array();
  for (const auto& b : calibration(probs, labels))
    w.begin_object()
        .field("decile", b.decile)
        .field("count", static_cast<std::int64_t>(b.count))
        .field("mean_score", b.mean_score)
        .field("observed_rate", b.observed_rate)
        .end_object();
  w.end_array().end_object();
  w.key("importance").begin_array();
  for (auto c : by_importance)
    w.begin_object()
        .field("feature", model_features()[c]->name)
        .field("mean_abs_shap", importance[c])
        .end_object();
  w.end_array();
  w.key("score_distribution").begin_array();
  std::vector<std::int64_t> bins(10, 0);
  for (double p : probs) ++bins[std::min<std::size_t>(9, static_cast<std::size_t>(p * 10))];
  for (std::size_t b = 0; b < 10; ++b)
    w.begin_object()
        .field("from", static_cast<double>(b) / 10)
        .field("to", static_cast<double>(b + 1) / 10)
        .field("count", bins[b])
        .end_object();
  w.end_array();
  rapidjson::Document doc;
  auto fairness = to_json(report, doc.GetAllocator());
  w.key("fairness").value(fairness);
  w.end_object();
  out.card_json = w.take();
  return out;
}

}  // namespace gabe::scoring
