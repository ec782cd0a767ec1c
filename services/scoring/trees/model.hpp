// The private representation behind gabe::trees::Forest: each tree flattened breadth-first (the
// two children of a node adjacent, so right = left + 1) for predict, and, for TreeSHAP, the
// subset-mask bits of every split and one table per group of up to four leaves (docs/trees.md).
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

// A group: a maximal subtree of height ≤ kGroupHeight (up to 3 splits and 4 leaves). For each
// subset mask A of the path features above the group and each combination of directions a row
// can take at the group's splits, the table holds the summed SHAP shares of all its leaves per
// column (feature), then the value of the leaf reached (0 when none is reached): a row's whole
// contribution from the group is one table row, index (A << splits) | directions.
inline constexpr std::uint32_t kGroupHeight = 2;

struct Group {
  std::uint32_t root;           // node index; masks[root] is A
  std::uint32_t split_count;    // splits inside the group, ≤ 3
  std::uint32_t splits[3];      // their node indices; bit i of the index = the row went left there
  std::uint32_t width;          // columns: distinct features of the group's paths
  std::uint32_t column_offset;  // into Tree::group_feature
  std::uint64_t table_offset;   // into Tree::table: rows of width + 1 doubles
};

struct Tree {
  std::vector<Node> nodes;
  std::uint32_t depth = 0;
  double expected_value = 0;  // the cover-weighted mean of the leaves (the tree's bias)
  // TreeSHAP: the split nodes above the groups (breadth-first order), and for every split node
  // the bit of its feature's position in the unique path and whether the feature is new there.
  std::vector<std::uint32_t> upper_splits;
  std::vector<std::uint32_t> position_bit;
  std::vector<std::uint32_t> new_bit;
  std::vector<Group> groups;
  std::vector<std::uint32_t> group_feature;
  std::vector<double> table;
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
