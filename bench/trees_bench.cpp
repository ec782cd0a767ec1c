// gabe-trees-bench: gabe_trees against XGBoost 1.7 on the same model and rows, side by side
// (bench/run_bench.sh phase T, docs/trees.md). For a 200-tree model of depth 4 and one of
// depth 6, trained here on a synthetic donor-like matrix (30 features, 10 % missing):
//   predict        Forest::predict_margin vs XGBoosterPredictFromDense (margins), all rows
//   exact reasons  Forest::top_reasons (k = 3, all rows) and Forest::contributions (sample)
//                  vs XGBoost's exact pred_contribs on a sample (it is too slow for all rows)
// Both sides use both cores: XGBoost with nthread = 2, gabe_trees with two std::threads over
// halves of the rows. Each timing but top_reasons over all rows (one long run) is the best of
// --repeat runs. It also checks that the answers
// are XGBoost's (largest difference printed) and exits 1 when they are not.
//
// usage: gabe-trees-bench [--rows N] [--train-rows N] [--trees N] [--repeat N] [--markdown]
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "gabe/trees.hpp"
#include "testing/xgboost_reference.hpp"

namespace {

using gabe::trees::Forest;
using gabe::trees::testing::Booster;
using gabe::trees::testing::Dataset;
using gabe::trees::testing::synthetic;

constexpr std::size_t kFeatures = 30;
constexpr std::size_t kThreads = 2;
constexpr std::size_t kReasons = 3;

struct Options {
  std::size_t rows = 1'000'000;
  std::size_t train_rows = 200'000;
  int trees = 200;
  int repeat = 3;
  bool markdown = false;
};

double seconds_of(const std::function<void()>& work) {
  const auto start = std::chrono::steady_clock::now();
  work();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double best_of(int repeat, const std::function<void()>& work) {
  double best = 1e300;
  for (int i = 0; i < repeat; ++i) best = std::min(best, seconds_of(work));
  return best;
}

// Runs work(begin, end) over [0, n) split into kThreads contiguous parts.
void in_parallel(std::size_t n, const std::function<void(std::size_t, std::size_t)>& work) {
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < kThreads; ++t) {
    const std::size_t begin = n * t / kThreads;
    const std::size_t end = n * (t + 1) / kThreads;
    threads.emplace_back([&work, begin, end] { work(begin, end); });
  }
  for (auto& thread : threads) thread.join();
}

std::string thousands(double value) {
  std::string digits = std::to_string(static_cast<long long>(std::llround(value)));
  for (int i = static_cast<int>(digits.size()) - 3; i > 0; i -= 3) digits.insert(i, ",");
  return digits;
}

std::string fixed(double value, int decimals) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value);
  return buffer;
}

struct Result {
  int depth = 0;
  std::size_t sample = 0;
  double xgb_predict_s = 0;
  double forest_predict_s = 0;
  double xgb_contribs_s = 0;
  double forest_contribs_s = 0;
  double forest_reasons_s = 0;
  double load_s = 0;
  double margin_difference = 0;
  double contribution_difference = 0;
  double sum_difference = 0;
};

Result measure(const Options& options, const Dataset& data, const Dataset& train, int depth,
               std::size_t sample) {
  Result result;
  result.depth = depth;
  result.sample = std::min(sample, data.rows);
  std::fprintf(stderr, "[trees-bench] depth %d: training %d trees on %zu rows\n", depth,
               options.trees, train.rows);
  Booster booster(train.x.data(), train.rows, kFeatures, train.labels, options.trees,
                  {{"max_depth", std::to_string(depth)},
                   {"tree_method", "hist"},
                   {"eta", "0.1"},
                   {"nthread", std::to_string(kThreads)}});
  const std::string json = booster.json();
  Forest forest = Forest::from_xgboost_json(json);
  result.load_s = seconds_of([&] { forest = Forest::from_xgboost_json(json); });

  const std::size_t n = data.rows;
  std::fprintf(stderr, "[trees-bench] depth %d: predict, %zu rows\n", depth, n);
  std::vector<float> xgb_margins;
  result.xgb_predict_s = best_of(
      options.repeat, [&] { xgb_margins = booster.predict_margin(data.x.data(), n, kFeatures); });
  std::vector<double> margins(n);
  result.forest_predict_s = best_of(options.repeat, [&] {
    in_parallel(n, [&](std::size_t begin, std::size_t end) {
      forest.predict_margin(data.x.data() + begin * kFeatures, end - begin, margins.data() + begin);
    });
  });
  for (std::size_t r = 0; r < n; ++r) {
    result.margin_difference = std::max(result.margin_difference,
                                        std::abs(margins[r] - static_cast<double>(xgb_margins[r])));
  }

  const std::size_t s = result.sample;
  std::fprintf(stderr, "[trees-bench] depth %d: XGBoost pred_contribs, %zu rows\n", depth, s);
  std::vector<float> xgb_phi;
  result.xgb_contribs_s =
      seconds_of([&] { xgb_phi = booster.contributions(data.x.data(), s, kFeatures); });
  std::vector<double> phi(s * (kFeatures + 1));
  result.forest_contribs_s = best_of(options.repeat, [&] {
    in_parallel(s, [&](std::size_t begin, std::size_t end) {
      forest.contributions(data.x.data() + begin * kFeatures, end - begin,
                           phi.data() + begin * (kFeatures + 1));
    });
  });
  for (std::size_t r = 0; r < s; ++r) {
    double sum = 0;
    for (std::size_t f = 0; f <= kFeatures; ++f) {
      const std::size_t i = r * (kFeatures + 1) + f;
      result.contribution_difference = std::max(result.contribution_difference,
                                                std::abs(phi[i] - static_cast<double>(xgb_phi[i])));
      sum += phi[i];
    }
    result.sum_difference = std::max(result.sum_difference, std::abs(sum - margins[r]));
  }

  std::fprintf(stderr, "[trees-bench] depth %d: top %zu reasons, %zu rows\n", depth, kReasons, n);
  std::vector<Forest::Reason> reasons(n * kReasons);
  std::vector<double> reason_margins(n);
  // One run: it covers every row and lasts long enough to be steady.
  result.forest_reasons_s = best_of(1, [&] {
    in_parallel(n, [&](std::size_t begin, std::size_t end) {
      forest.top_reasons(data.x.data() + begin * kFeatures, end - begin, kReasons,
                         reasons.data() + begin * kReasons, reason_margins.data() + begin);
    });
  });
  for (std::size_t r = 0; r < n; ++r) {
    result.sum_difference =
        std::max(result.sum_difference, std::abs(reason_margins[r] - margins[r]));
  }
  return result;
}

void print(const Options& options, const std::vector<Result>& results) {
  const double n = static_cast<double>(options.rows);
  for (const Result& r : results) {
    const double xgb_predict = n / r.xgb_predict_s;
    const double forest_predict = n / r.forest_predict_s;
    const double xgb_contribs = static_cast<double>(r.sample) / r.xgb_contribs_s;
    const double forest_contribs = static_cast<double>(r.sample) / r.forest_contribs_s;
    const double forest_reasons = n / r.forest_reasons_s;
    const double predict_ratio = forest_predict / xgb_predict;
    const double reasons_ratio = forest_reasons / xgb_contribs;
    const std::string model = std::to_string(options.trees) + " trees of depth " +
                              std::to_string(r.depth) + ", " + thousands(n) + " rows × " +
                              std::to_string(kFeatures) + " features";
    if (options.markdown) {
      std::printf(
          "| predict (margins), %s, both cores | Forest::predict_margin: %s rows/s (%s s); "
          "largest difference to XGBoost %.1e | XGBoosterPredictFromDense, nthread 2: %s rows/s "
          "(%s s) | %s | ≥ 0.80 | %s |\n",
          model.c_str(), thousands(forest_predict).c_str(), fixed(r.forest_predict_s, 3).c_str(),
          r.margin_difference, thousands(xgb_predict).c_str(), fixed(r.xgb_predict_s, 3).c_str(),
          fixed(predict_ratio, 2).c_str(), predict_ratio >= 0.8 ? "pass" : "FAIL");
      std::printf(
          "| exact reasons (TreeSHAP), %s, both cores | Forest::top_reasons (top %zu, every row): "
          "%s rows/s (%s s); Forest::contributions (all %zu, on the sample): %s rows/s, largest "
          "difference to XGBoost %.1e | XGBoost pred_contribs (exact), nthread 2, on a %s-row "
          "sample: %s rows/s (%s s) | %s | ≥ 10 | %s |\n",
          model.c_str(), kReasons, thousands(forest_reasons).c_str(),
          fixed(r.forest_reasons_s, 3).c_str(), kFeatures + 1, thousands(forest_contribs).c_str(),
          r.contribution_difference, thousands(static_cast<double>(r.sample)).c_str(),
          thousands(xgb_contribs).c_str(), fixed(r.xgb_contribs_s, 3).c_str(),
          fixed(reasons_ratio, 1).c_str(), reasons_ratio >= 10 ? "pass" : "FAIL");
    } else {
      std::printf("%s (model read in %s s)\n", model.c_str(), fixed(r.load_s, 3).c_str());
      std::printf("  predict   XGBoost %12s rows/s   Forest %12s rows/s   ratio %6.2f\n",
                  thousands(xgb_predict).c_str(), thousands(forest_predict).c_str(), predict_ratio);
      std::printf(
          "  reasons   XGBoost %12s rows/s   Forest %12s rows/s   ratio %6.1f"
          "   (XGBoost pred_contribs on %zu rows; Forest top_reasons on all)\n",
          thousands(xgb_contribs).c_str(), thousands(forest_reasons).c_str(), reasons_ratio,
          r.sample);
      std::printf(
          "  contribs  XGBoost %12s rows/s   Forest %12s rows/s   ratio %6.1f"
          "   (both on the %zu-row sample)\n",
          thousands(xgb_contribs).c_str(), thousands(forest_contribs).c_str(),
          forest_contribs / xgb_contribs, r.sample);
      std::printf(
          "  largest difference to XGBoost: margin %.1e, contribution %.1e; "
          "|row sum - margin| %.1e\n",
          r.margin_difference, r.contribution_difference, r.sum_difference);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> long {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "gabe-trees-bench: %s needs a value\n", arg.c_str());
        std::exit(2);
      }
      return std::strtol(argv[++i], nullptr, 10);
    };
    if (arg == "--rows") {
      options.rows = static_cast<std::size_t>(value());
    } else if (arg == "--train-rows") {
      options.train_rows = static_cast<std::size_t>(value());
    } else if (arg == "--trees") {
      options.trees = static_cast<int>(value());
    } else if (arg == "--repeat") {
      options.repeat = static_cast<int>(value());
    } else if (arg == "--markdown") {
      options.markdown = true;
    } else {
      std::fprintf(stderr,
                   "usage: gabe-trees-bench [--rows N] [--train-rows N] [--trees N] [--repeat N] "
                   "[--markdown]\n");
      return 2;
    }
  }
  if (options.rows < 1000 || options.train_rows < 1000 || options.trees < 1 || options.repeat < 1) {
    std::fprintf(stderr, "gabe-trees-bench: at least 1,000 rows and 1 tree and repeat\n");
    return 2;
  }
  try {
    std::fprintf(stderr, "[trees-bench] generating %zu + %zu rows × %zu features\n", options.rows,
                 options.train_rows, kFeatures);
    const Dataset data = synthetic(options.rows, kFeatures, 2);
    const Dataset train = synthetic(options.train_rows, kFeatures, 1);
    // XGBoost manages about 7,000 rows/s at depth 4 and 700 at depth 6: smaller samples deep.
    std::vector<Result> results{measure(options, data, train, 4, 20'000),
                                measure(options, data, train, 6, 4'000)};
    print(options, results);
    for (const Result& r : results) {
      if (r.margin_difference > 1e-4 || r.contribution_difference > 1e-4 ||
          r.sum_difference > 1e-4) {
        std::fprintf(stderr, "gabe-trees-bench: gabe_trees disagrees with XGBoost\n");
        return 1;
      }
    }
  } catch (const std::exception& error) {
    std::fprintf(stderr, "gabe-trees-bench: %s\n", error.what());
    return 1;
  }
  return 0;
}
