// The private representation behind gabe::trees::Forest: each tree flattened breadth-first (the
// two children of a node adjacent, so right = left + 1) for predict, and, for TreeSHAP, every
// leaf's unique path features with a table over all subsets of them (docs/trees.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "gabe/trees.hpp"

namespace gabe::trees {

// A tree as XGBoost serialises it, indices as in the JSON (validated by build_model).
struct RawTree {
  std::vector<std::int32_t> left;
  std::vector<std::int32_t> right;
  std::vector<std::uint32_t> feature;
  std::vector<float> condition;  // threshold of a split, value of a leaf
  std::vector<std::uint8_t> default_left;
  std::vector<float> cover;  // sum_hessian
};

inline constexpr std::uint32_t kDefaultLeft = 1U << 31;
inline constexpr std::uint32_t kFeatureMask = kDefaultLeft - 1;

struct Node {
  float value;            // split threshold, or the leaf value
  std::uint32_t feature;  // feature index | kDefaultLeft
  std::int32_t left;      // -1 for a leaf; the right child is left + 1
};

struct Leaf {
  std::uint32_t node;
  std::uint32_t path_size;     // d: unique features on the path
  std::uint32_t path_offset;   // into Tree::path_feature / path_one_minus_zero
  std::uint64_t table_offset;  // into Tree::table: 2^d entries of {W, R}
  double value;
};

struct Tree {
  std::vector<Node> nodes;
  std::uint32_t depth = 0;
  double expected_value = 0;  // the cover-weighted mean of the leaves (the tree's bias)
  // TreeSHAP: for each split node (breadth-first order), the bit of its feature's position in
  // the unique path and whether the feature is new on the path there.
  std::vector<std::uint32_t> split_nodes;
  std::vector<std::uint32_t> position_bit;
  std::vector<std::uint32_t> new_bit;
  std::vector<Leaf> leaves;
  std::vector<std::uint32_t> path_feature;
  std::vector<double> path_one_minus_zero;  // 1 - z_p
  std::vector<double> table;                // per leaf and subset A: W(A), R(A) (docs/trees.md)
};

struct Model {
  std::size_t feature_count = 0;
  double base_margin = 0;
  double bias = 0;  // base_margin plus every tree's expected value: the bias column
  std::vector<Tree> trees;
  std::size_t max_nodes = 0;
};

// Flattens and checks one tree and precomputes its SHAP tables. Throws std::invalid_argument.
Tree build_tree(const RawTree& raw, std::size_t feature_count);

// Parses and checks a whole model (learner.gradient_booster.model.trees, learner_model_param).
std::shared_ptr<const Model> read_xgboost_json(std::string_view json);

}  // namespace gabe::trees
