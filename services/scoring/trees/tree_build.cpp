// Flattening one XGBoost tree and precomputing its TreeSHAP tables (docs/trees.md, "Tables").
#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>
#include <string>

#include "model.hpp"

namespace gabe::trees {

namespace {

// Deeper trees than this are not a scoring model; the bound keeps the recursion below and the
// 32-bit subset masks safe.
constexpr std::uint32_t kMaxDepth = 30;
// A leaf's table has 2^d entries for d unique features on its path; beyond this a tree's
// tables would not fit any sensible memory budget (a full tree of depth 8 needs 2^16).
constexpr std::uint64_t kMaxTableEntriesPerTree = std::uint64_t{1} << 18;
// The group tables kept for evaluation: at most 8 MiB per tree (a full tree of depth 6 with
// distinct features needs 128 KiB, one of depth 8 about 2.5 MiB).
constexpr std::uint64_t kMaxTableDoublesPerTree = std::uint64_t{1} << 20;

[[noreturn]] void fail(const std::string& what) {
  throw std::invalid_argument("XGBoost model: " + what);
}

// Shapley weight of a coalition of k others among d players: k! (d-1-k)! / d!.
std::vector<double> shapley_weights(std::uint32_t d) {
  std::vector<double> factorial(d + 1, 1.0);
  for (std::uint32_t i = 1; i <= d; ++i) factorial[i] = factorial[i - 1] * i;
  std::vector<double> weights(d, 0.0);
  for (std::uint32_t k = 0; k < d; ++k) {
    weights[k] = factorial[k] * factorial[d - 1 - k] / factorial[d];
  }
  return weights;
}

// For a leaf with value v and zero fractions z[0..d): for every subset A of the path features
// W(A) = prod_{p not in A} z_p and R(A) = v * sum_k w_k [t^k] prod_{p in A} (z_p + t), where
// w_k are the Shapley weights. A row whose satisfied path features are A then gets
// (1 - z_p) W(A) R(A \ {p}) for p in A and -W(A) R(A) for p not in A (docs/trees.md).
void build_leaf_table(const std::vector<double>& z, double v, std::vector<double>& table) {
  const auto d = static_cast<std::uint32_t>(z.size());
  const std::uint32_t subsets = 1U << d;
  const std::vector<double> weights = shapley_weights(d);
  std::vector<double> poly(static_cast<std::size_t>(subsets) * (d + 1), 0.0);
  poly[0] = 1.0;
  const std::size_t base = table.size();
  table.resize(base + 2 * static_cast<std::size_t>(subsets));
  for (std::uint32_t a = 0; a < subsets; ++a) {
    double* coefficients = &poly[static_cast<std::size_t>(a) * (d + 1)];
    if (a != 0) {
      const auto low = static_cast<std::uint32_t>(std::countr_zero(a));
      const double* previous = &poly[static_cast<std::size_t>(a & (a - 1)) * (d + 1)];
      coefficients[0] = previous[0] * z[low];
      for (std::uint32_t k = 1; k <= d; ++k) {
        coefficients[k] = previous[k] * z[low] + previous[k - 1];
      }
    }
    const auto size = static_cast<std::uint32_t>(std::popcount(a));
    double r = 0.0;
    if (size < d) {
      for (std::uint32_t k = 0; k <= size; ++k) r += weights[k] * coefficients[k];
    }
    double w = 1.0;
    for (std::uint32_t p = 0; p < d; ++p) {
      if ((a & (1U << p)) == 0) w *= z[p];
    }
    table[base + 2 * static_cast<std::size_t>(a)] = w;
    table[base + 2 * static_cast<std::size_t>(a) + 1] = v * r;
  }
}

struct PathFeature {
  std::uint32_t feature;
  double zero_fraction;
};

// What building needs of a leaf: its unique path features, their zero fractions, its value and
// its W/R table (build_leaf_table).
struct LeafPath {
  std::vector<std::uint32_t> feature;
  std::vector<double> zero_fraction;
  std::vector<double> table;
  double value = 0;
};

// The share of path position p of a leaf for a row whose satisfied positions are `a`.
double leaf_share(const LeafPath& leaf, std::uint32_t a, std::uint32_t p) {
  const std::uint32_t bit = 1U << p;
  const double w = leaf.table[2 * static_cast<std::size_t>(a)];
  if ((a & bit) != 0) {
    return (1.0 - leaf.zero_fraction[p]) * w *
           leaf.table[2 * static_cast<std::size_t>(a ^ bit) + 1];
  }
  return -w * leaf.table[2 * static_cast<std::size_t>(a) + 1];
}

// Walks the tree from the root, keeping the unique path features (merging a feature split on
// again, as XGBoost's TreeSHAP does by unwinding and extending its path).
class PathWalker {
 public:
  PathWalker(const RawTree& raw, const std::vector<std::uint32_t>& order, Tree& tree)
      : raw_(raw),
        order_(order),
        tree_(tree),
        leaves_(tree.nodes.size()),
        path_size_(tree.nodes.size()) {}

  void walk(std::uint32_t node, std::vector<PathFeature>& path) {
    path_size_[node] = static_cast<std::uint32_t>(path.size());
    const Node& current = tree_.nodes[node];
    if (current.left < 0) {
      add_leaf(node, path);
      return;
    }
    const std::uint32_t feature = current.feature & kFeatureMask;
    std::uint32_t position = 0;
    while (position < path.size() && path[position].feature != feature) ++position;
    const bool is_new = position == path.size();
    tree_.position_bit[node] = 1U << position;
    tree_.new_bit[node] = is_new ? 1U << position : 0U;
    const double cover = raw_.cover[order_[node]];
    for (std::int32_t child = current.left; child <= current.left + 1; ++child) {
      const double ratio = raw_.cover[order_[static_cast<std::uint32_t>(child)]] / cover;
      std::vector<PathFeature> child_path = path;
      if (is_new) {
        child_path.push_back({feature, ratio});
      } else {
        child_path[position].zero_fraction *= ratio;
      }
      walk(static_cast<std::uint32_t>(child), child_path);
    }
  }

  const std::vector<LeafPath>& leaves() const { return leaves_; }
  const std::vector<std::uint32_t>& path_size() const { return path_size_; }

 private:
  void add_leaf(std::uint32_t node, const std::vector<PathFeature>& path) {
    const auto d = static_cast<std::uint32_t>(path.size());
    table_entries_ += std::uint64_t{1} << d;
    if (table_entries_ > kMaxTableEntriesPerTree) {
      fail("a tree is too deep for exact explanations (" + std::to_string(d) +
           " distinct features on one path)");
    }
    LeafPath& leaf = leaves_[node];
    leaf.value = tree_.nodes[node].value;
    for (const PathFeature& element : path) {
      leaf.feature.push_back(element.feature);
      leaf.zero_fraction.push_back(element.zero_fraction);
    }
    build_leaf_table(leaf.zero_fraction, leaf.value, leaf.table);
  }

  const RawTree& raw_;
  const std::vector<std::uint32_t>& order_;
  Tree& tree_;
  std::vector<LeafPath> leaves_;
  std::vector<std::uint32_t> path_size_;
  std::uint64_t table_entries_ = 0;
};

// Fills the table of the group rooted at `root` (see Group in model.hpp).
void add_group(Tree& tree, std::uint32_t root, const std::vector<LeafPath>& leaves,
               std::uint32_t root_path_size) {
  Group group{};
  group.root = root;
  // The group's splits breadth-first, and for each leaf the splits on its way from the root
  // with the direction it takes there.
  struct Step {
    std::uint32_t split;  // index into group.splits
    bool left;
  };
  std::vector<std::pair<std::uint32_t, std::vector<Step>>> members{{root, {}}};
  std::vector<std::pair<std::uint32_t, std::vector<Step>>> group_leaves;
  for (std::size_t i = 0; i < members.size(); ++i) {
    const auto [node, steps] = members[i];
    const Node& current = tree.nodes[node];
    if (current.left < 0) {
      group_leaves.emplace_back(node, steps);
      continue;
    }
    if (group.split_count == 3) fail("internal error: a group with more than three splits");
    const std::uint32_t index = group.split_count++;
    group.splits[index] = node;
    for (const bool left : {true, false}) {
      std::vector<Step> next = steps;
      next.push_back({index, left});
      members.emplace_back(static_cast<std::uint32_t>(current.left) + (left ? 0U : 1U), next);
    }
  }
  // Columns: the distinct features on the group's leaf paths.
  group.column_offset = static_cast<std::uint32_t>(tree.group_feature.size());
  std::vector<std::vector<std::uint32_t>> column_of(group_leaves.size());
  for (std::size_t l = 0; l < group_leaves.size(); ++l) {
    for (const std::uint32_t feature : leaves[group_leaves[l].first].feature) {
      const auto begin = tree.group_feature.begin() + group.column_offset;
      const auto column =
          static_cast<std::uint32_t>(std::find(begin, tree.group_feature.end(), feature) - begin);
      if (group.column_offset + column == tree.group_feature.size()) {
        tree.group_feature.push_back(feature);
      }
      column_of[l].push_back(column);
    }
  }
  group.width = static_cast<std::uint32_t>(tree.group_feature.size()) - group.column_offset;
  group.table_offset = tree.table.size();
  const std::size_t row_size = group.width + 1;
  const std::uint32_t directions = 1U << group.split_count;
  const std::uint64_t rows = (std::uint64_t{1} << root_path_size) * directions;
  if (tree.table.size() + rows * row_size > kMaxTableDoublesPerTree) {
    fail("a tree is too deep for exact explanations (" + std::to_string(root_path_size) +
         " distinct features above a group)");
  }
  tree.table.resize(tree.table.size() + rows * row_size, 0.0);
  for (std::uint64_t index = 0; index < rows; ++index) {
    const auto above = static_cast<std::uint32_t>(index >> group.split_count);
    const auto taken = static_cast<std::uint32_t>(index & (directions - 1));
    double* row = &tree.table[group.table_offset + index * row_size];
    for (std::size_t l = 0; l < group_leaves.size(); ++l) {
      const auto& [node, steps] = group_leaves[l];
      std::uint32_t mask = above;
      for (const Step& step : steps) {
        const std::uint32_t split = group.splits[step.split];
        const bool hot = (((taken >> step.split) & 1U) != 0) == step.left;
        mask = hot ? mask | tree.new_bit[split] : mask & ~tree.position_bit[split];
      }
      const LeafPath& leaf = leaves[node];
      const auto d = static_cast<std::uint32_t>(leaf.feature.size());
      for (std::uint32_t p = 0; p < d; ++p) row[column_of[l][p]] += leaf_share(leaf, mask, p);
      if (mask == (1U << d) - 1) row[group.width] = leaf.value;
    }
  }
  tree.groups.push_back(group);
}

}  // namespace

Tree build_tree(const RawTree& raw, std::size_t feature_count) {
  const std::size_t n = raw.left.size();
  if (n == 0 || raw.right.size() != n || raw.feature.size() != n || raw.condition.size() != n ||
      raw.default_left.size() != n || raw.cover.size() != n) {
    fail("a tree's node arrays are empty or of different lengths");
  }
  if (n > (std::size_t{1} << 24)) fail("a tree has too many nodes");
  // Breadth-first renumbering: order[new] = old; both children of a node get adjacent numbers.
  std::vector<std::int32_t> new_index(n, -1);
  std::vector<std::uint32_t> order{0};
  std::vector<std::uint32_t> depth_of{0};
  new_index[0] = 0;
  Tree tree;
  for (std::size_t i = 0; i < order.size(); ++i) {
    const std::uint32_t old = order[i];
    const std::int32_t left = raw.left[old];
    const std::int32_t right = raw.right[old];
    if (left == -1 && right == -1) continue;
    if (left < 0 || right < 0 || static_cast<std::size_t>(left) >= n ||
        static_cast<std::size_t>(right) >= n || left == right || new_index[left] != -1 ||
        new_index[right] != -1) {
      fail("a tree's child indices do not form a binary tree");
    }
    if (raw.feature[old] >= feature_count) fail("a split uses a feature beyond num_feature");
    if (depth_of[i] + 1 > kMaxDepth) fail("a tree is deeper than 30 levels");
    for (const std::int32_t child : {left, right}) {
      new_index[child] = static_cast<std::int32_t>(order.size());
      order.push_back(static_cast<std::uint32_t>(child));
      depth_of.push_back(depth_of[i] + 1);
      tree.depth = std::max(tree.depth, depth_of[i] + 1);
    }
  }
  const std::size_t reachable = order.size();
  tree.nodes.resize(reachable);
  for (std::size_t i = 0; i < reachable; ++i) {
    const std::uint32_t old = order[i];
    const bool leaf = raw.left[old] == -1;
    if (!std::isfinite(raw.cover[old]) || raw.cover[old] < 0.0F ||
        (!leaf && !(raw.cover[old] > 0.0F))) {
      fail("a node's sum_hessian is not a usable cover");
    }
    if (leaf && !std::isfinite(raw.condition[old])) fail("a leaf value is not finite");
    Node& node = tree.nodes[i];
    node.value = raw.condition[old];
    node.feature = leaf ? 0U : raw.feature[old] | (raw.default_left[old] != 0 ? kDefaultLeft : 0U);
    node.left = leaf ? -1 : new_index[raw.left[old]];
  }
  // The expected value, children before parents, weighted by cover as XGBoost does.
  std::vector<double> mean(reachable, 0.0);
  for (std::size_t i = reachable; i-- > 0;) {
    const Node& node = tree.nodes[i];
    if (node.left < 0) {
      mean[i] = node.value;
    } else {
      const auto left = static_cast<std::size_t>(node.left);
      mean[i] =
          (mean[left] * raw.cover[order[left]] + mean[left + 1] * raw.cover[order[left + 1]]) /
          raw.cover[order[i]];
    }
  }
  tree.expected_value = mean[0];
  tree.position_bit.assign(reachable, 0);
  tree.new_bit.assign(reachable, 0);
  std::vector<PathFeature> path;
  PathWalker walker(raw, order, tree);
  walker.walk(0, path);
  // Groups: the maximal subtrees of height ≤ kGroupHeight; the splits above them propagate masks.
  std::vector<std::uint32_t> height(reachable, 0);
  for (std::size_t i = reachable; i-- > 0;) {
    const Node& node = tree.nodes[i];
    if (node.left >= 0) {
      const auto left = static_cast<std::size_t>(node.left);
      height[i] = 1 + std::max(height[left], height[left + 1]);
    }
  }
  const auto group_or_split = [&](std::uint32_t node) {
    if (height[node] <= kGroupHeight) {
      add_group(tree, node, walker.leaves(), walker.path_size()[node]);
    } else {
      tree.upper_splits.push_back(node);
    }
  };
  group_or_split(0);
  for (std::size_t i = 0; i < tree.upper_splits.size(); ++i) {
    const auto left = static_cast<std::uint32_t>(tree.nodes[tree.upper_splits[i]].left);
    group_or_split(left);
    group_or_split(left + 1);
  }
  return tree;
}

}  // namespace gabe::trees
