// Evaluating a Forest: predict walks each tree for a block of rows at a time; contributions
// and top_reasons compute, per tree and row, which path features of every leaf the row
// satisfies (a bit mask per leaf, one comparison per split node) and read each leaf's share from
// its precomputed table (docs/trees.md).
#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <utility>
#include <vector>

#include "gabe/trees.hpp"
#include "model.hpp"

namespace gabe::trees {

namespace {

// Rows evaluated together per tree: the tree (and its tables) stays in cache for all of them.
constexpr std::size_t kBlockRows = 64;

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

// Contributions of `count` rows into phi (count × (F + 1), overwritten) and their margins.
void explain_block(const Model& model, const float* rows, std::size_t count, double* phi,
                   double* margins, std::vector<std::uint32_t>& masks) {
  const std::size_t features = model.feature_count;
  const std::size_t stride = features + 1;
  std::fill(phi, phi + count * stride, 0.0);
  for (std::size_t r = 0; r < count; ++r) {
    phi[r * stride + features] = model.bias;
    margins[r] = model.base_margin;
  }
  for (const Tree& tree : model.trees) {
    const Node* nodes = tree.nodes.data();
    const double* table = tree.table.data();
    const std::uint32_t* path_feature = tree.path_feature.data();
    const double* one_minus_zero = tree.path_one_minus_zero.data();
    for (std::size_t r = 0; r < count; ++r) {
      const float* row = rows + r * features;
      double* out = phi + r * stride;
      masks[0] = 0;
      for (const std::uint32_t n : tree.split_nodes) {
        const Node& node = nodes[n];
        const std::uint32_t mask = masks[n];
        const std::uint32_t hot = mask | tree.new_bit[n];
        const std::uint32_t cold = mask & ~tree.position_bit[n];
        const bool left = goes_left(node, row);
        const auto child = static_cast<std::size_t>(node.left);
        masks[child] = left ? hot : cold;
        masks[child + 1] = left ? cold : hot;
      }
      double reached = 0.0;
      for (const Leaf& leaf : tree.leaves) {
        const std::uint32_t a = masks[leaf.node];
        const double* entries = table + leaf.table_offset;
        const double w = entries[2 * a];
        const double absent = -w * entries[2 * a + 1];
        const std::uint32_t* feature = path_feature + leaf.path_offset;
        const double* present_factor = one_minus_zero + leaf.path_offset;
        for (std::uint32_t p = 0; p < leaf.path_size; ++p) {
          const std::uint32_t bit = 1U << p;
          out[feature[p]] +=
              (a & bit) != 0 ? present_factor[p] * w * entries[2 * (a ^ bit) + 1] : absent;
        }
        if (a == (1U << leaf.path_size) - 1) reached = leaf.value;
      }
      margins[r] += reached;
    }
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
  std::vector<std::uint32_t> masks(model_->max_nodes);
  std::vector<double> margins(kBlockRows);
  const std::size_t stride = model_->feature_count + 1;
  for (std::size_t start = 0; start < n; start += kBlockRows) {
    const std::size_t count = std::min(kBlockRows, n - start);
    explain_block(*model_, rows + start * model_->feature_count, count, out + start * stride,
                  margins.data(), masks);
  }
}

void Forest::top_reasons(const float* rows, std::size_t n, std::size_t k, Reason* reasons,
                         double* margins) const {
  const std::size_t features = model_->feature_count;
  if (k > features) throw std::invalid_argument("top_reasons: k exceeds the feature count");
  const std::size_t stride = features + 1;
  std::vector<std::uint32_t> masks(model_->max_nodes);
  std::vector<double> phi(kBlockRows * stride);
  std::vector<std::uint32_t> order(features);
  for (std::size_t start = 0; start < n; start += kBlockRows) {
    const std::size_t count = std::min(kBlockRows, n - start);
    explain_block(*model_, rows + start * features, count, phi.data(), margins + start, masks);
    for (std::size_t r = 0; r < count; ++r) {
      const double* row_phi = phi.data() + r * stride;
      std::iota(order.begin(), order.end(), 0U);
      std::partial_sort(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(k), order.end(),
                        [row_phi](std::uint32_t a, std::uint32_t b) {
                          const double x = std::abs(row_phi[a]);
                          const double y = std::abs(row_phi[b]);
                          return x > y || (x == y && a < b);
                        });
      Reason* out = reasons + (start + r) * k;
      for (std::size_t i = 0; i < k; ++i) out[i] = {order[i], row_phi[order[i]]};
    }
  }
}

}  // namespace gabe::trees
