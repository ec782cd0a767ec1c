// Evaluating a Forest: predict walks each tree for a block of rows at a time; contributions
// and top_reasons compute, per tree and row, which path features of every leaf the row
// satisfies (a bit mask per leaf, one comparison per split node) and read each leaf's share from
// its precomputed table (docs/trees.md).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>
#include <vector>

#include "gabe/trees.hpp"
#include "model.hpp"

namespace gabe::trees {

namespace {

// Rows evaluated together per tree: the tree stays in cache for all of them. Explaining reads
// a tree's group tables (up to ~128 KiB at depth 6) at random, so it takes more rows per tree to
// read them from cache rather than memory; its scratch then stays within L2.
constexpr std::size_t kBlockRows = 64;
constexpr std::size_t kExplainRows = 512;

inline bool goes_left(const Node& node, const float* row) {
  const float x = row[node.feature & kFeatureMask];
  return std::isnan(x) ? (node.feature & kDefaultLeft) != 0 : x < node.value;
}

// XGBoost's own order of summation for a margin: the bias, then tree by tree.
void predict_block(const Model& model, const float* rows, std::size_t count, double* out) {
  const std::size_t features = model.feature_count;
  for (std::size_t r = 0; r < count; ++r) out[r] = model.base_margin;
  for (const Tree& tree : model.trees) {
    const Node* nodes = tree.nodes.data();
    for (std::size_t r = 0; r < count; ++r) {
      const float* row = rows + r * features;
      std::int32_t n = 0;
      while (nodes[n].left >= 0) n = nodes[n].left + (goes_left(nodes[n], row) ? 0 : 1);
      out[r] += nodes[n].value;
    }
  }
}

// Scratch space of one explain call: the subset masks of the nodes for a block of rows
// (node-major, so one node's masks for all rows are contiguous) and per-row temporaries.
struct Scratch {
  explicit Scratch(const Model& model)
      : phi((model.feature_count + 1) * kExplainRows),
        masks(model.max_nodes * kExplainRows),
        index(kExplainRows),
        reached(kExplainRows) {}
  std::vector<double> phi;  // feature-major: phi[f * kExplainRows + r]
  std::vector<std::uint32_t> masks;
  std::vector<std::uint64_t> index;
  std::vector<double> reached;
};

// Contributions of `count` ≤ kExplainRows rows into scratch.phi (feature-major) and their
// margins. Per tree: the masks of the path features satisfied down to each group, then per
// group one table row per row of data. The loops run rows innermost, so consecutive additions
// go to different rows and do not wait for each other.
void explain_block(const Model& model, const float* rows, std::size_t count, double* margins,
                   Scratch& scratch) {
  const std::size_t features = model.feature_count;
  double* phi = scratch.phi.data();
  std::fill(phi, phi + features * kExplainRows, 0.0);
  std::fill(phi + features * kExplainRows, phi + (features + 1) * kExplainRows, model.bias);
  std::fill(margins, margins + count, model.base_margin);
  std::uint32_t* masks = scratch.masks.data();
  std::uint64_t* index = scratch.index.data();
  double* reached = scratch.reached.data();
  for (const Tree& tree : model.trees) {
    const Node* nodes = tree.nodes.data();
    std::fill(masks, masks + count, 0U);
    for (const std::uint32_t n : tree.upper_splits) {
      const Node& node = nodes[n];
      const std::size_t feature = node.feature & kFeatureMask;
      const bool default_left = (node.feature & kDefaultLeft) != 0;
      const float threshold = node.value;
      const std::uint32_t set = tree.new_bit[n];
      const std::uint32_t clear = ~tree.position_bit[n];
      const std::uint32_t* mask = masks + n * kExplainRows;
      std::uint32_t* left_mask = masks + static_cast<std::size_t>(node.left) * kExplainRows;
      std::uint32_t* right_mask = left_mask + kExplainRows;
      for (std::size_t r = 0; r < count; ++r) {
        const float x = rows[r * features + feature];
        const bool left = std::isnan(x) ? default_left : x < threshold;
        const std::uint32_t hot = mask[r] | set;
        const std::uint32_t cold = mask[r] & clear;
        left_mask[r] = left ? hot : cold;
        right_mask[r] = left ? cold : hot;
      }
    }
    std::fill(reached, reached + count, 0.0);
    for (const Group& group : tree.groups) {
      const std::uint32_t* mask = masks + static_cast<std::size_t>(group.root) * kExplainRows;
      for (std::size_t r = 0; r < count; ++r)
        index[r] = std::uint64_t{mask[r]} << group.split_count;
      for (std::uint32_t i = 0; i < group.split_count; ++i) {
        const Node& node = nodes[group.splits[i]];
        const std::size_t feature = node.feature & kFeatureMask;
        const bool default_left = (node.feature & kDefaultLeft) != 0;
        const float threshold = node.value;
        for (std::size_t r = 0; r < count; ++r) {
          const float x = rows[r * features + feature];
          const bool left = std::isnan(x) ? default_left : x < threshold;
          index[r] |= std::uint64_t{left} << i;
        }
      }
      const std::size_t row_size = group.width + 1;
      const double* table = tree.table.data() + group.table_offset;
      for (std::size_t r = 0; r < count; ++r) index[r] *= row_size;
      for (std::uint32_t c = 0; c < group.width; ++c) {
        double* out = phi + tree.group_feature[group.column_offset + c] * kExplainRows;
        const double* column = table + c;
        for (std::size_t r = 0; r < count; ++r) out[r] += column[index[r]];
      }
      const double* value = table + group.width;
      for (std::size_t r = 0; r < count; ++r) reached[r] += value[index[r]];
    }
    for (std::size_t r = 0; r < count; ++r) margins[r] += reached[r];
  }
}

}  // namespace

Forest::Forest(std::shared_ptr<const Model> model) : model_(std::move(model)) {}

Forest Forest::from_xgboost_json(std::string_view json) {
  return Forest(read_xgboost_json(json));
}

std::size_t Forest::feature_count() const {
  return model_->feature_count;
}

double Forest::base_margin() const {
  return model_->base_margin;
}

void Forest::predict_margin(const float* rows, std::size_t n, double* out) const {
  for (std::size_t start = 0; start < n; start += kBlockRows) {
    const std::size_t count = std::min(kBlockRows, n - start);
    predict_block(*model_, rows + start * model_->feature_count, count, out + start);
  }
}

void Forest::contributions(const float* rows, std::size_t n, double* out) const {
  Scratch scratch(*model_);
  std::vector<double> margins(kExplainRows);
  const std::size_t stride = model_->feature_count + 1;
  for (std::size_t start = 0; start < n; start += kExplainRows) {
    const std::size_t count = std::min(kExplainRows, n - start);
    explain_block(*model_, rows + start * model_->feature_count, count, margins.data(), scratch);
    for (std::size_t f = 0; f < stride; ++f) {
      const double* column = scratch.phi.data() + f * kExplainRows;
      for (std::size_t r = 0; r < count; ++r) out[(start + r) * stride + f] = column[r];
    }
  }
}

void Forest::top_reasons(const float* rows, std::size_t n, std::size_t k, Reason* reasons,
                         double* margins) const {
  const std::size_t features = model_->feature_count;
  if (k > features) throw std::invalid_argument("top_reasons: k exceeds the feature count");
  Scratch scratch(*model_);
  for (std::size_t start = 0; start < n; start += kExplainRows) {
    const std::size_t count = std::min(kExplainRows, n - start);
    explain_block(*model_, rows + start * features, count, margins + start, scratch);
    for (std::size_t r = 0; r < count && k > 0; ++r) {
      // Insertion into the k best so far; features come in ascending order, so a tie keeps
      // the smaller feature index first.
      const double* row_phi = scratch.phi.data() + r;
      Reason* out = reasons + (start + r) * k;
      std::size_t filled = 0;
      for (std::uint32_t f = 0; f < features; ++f) {
        const double contribution = row_phi[f * kExplainRows];
        const double magnitude = std::abs(contribution);
        if (filled == k) {
          if (!(magnitude > std::abs(out[k - 1].contribution))) continue;
        } else {
          ++filled;
        }
        std::size_t i = filled - 1;
        for (; i > 0 && magnitude > std::abs(out[i - 1].contribution); --i) out[i] = out[i - 1];
        out[i] = {f, contribution};
      }
    }
  }
}

}  // namespace gabe::trees
