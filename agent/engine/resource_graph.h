#pragma once

// The relations of a catalog (require, before, notify, subscribe) as a dependency graph, and
// the order the apply engine walks it in.

#include <string>
#include <vector>

#include "plumb/v1/types.pb.h"

namespace plumb {

// Built once per run from a catalog; indices are positions in catalog.resources(). Every
// relation orders two resources; notify and subscribe also make the target refresh when the
// source changed. Immutable after construction, so thread-safe.
class ResourceGraph {
 public:
  explicit ResourceGraph(const v1::Catalog& catalog);

  // Apply order: topological, keeping catalog order among resources that do not depend on
  // each other. Resources on or behind a dependency cycle come last, in catalog order.
  const std::vector<int>& order() const { return order_; }
  // Resources that must be applied before `index`.
  const std::vector<int>& dependencies(int index) const { return dependencies_[index]; }
  // Resources whose change refreshes `index` (they notify it, or it subscribes to them).
  const std::vector<int>& notifiers(int index) const { return notifiers_[index]; }
  // Why `index` cannot be applied (duplicate id, unknown reference, cycle); "" if it can.
  const std::string& error(int index) const { return errors_[index]; }

 private:
  void AddEdge(int from, int to);
  void Sort();
  std::string DescribeCycle(const std::vector<bool>& remaining) const;

  std::vector<std::string> ids_;
  std::vector<std::vector<int>> dependencies_;
  std::vector<std::vector<int>> dependents_;
  std::vector<std::vector<int>> notifiers_;
  std::vector<std::string> errors_;
  std::vector<int> order_;
};

}  // namespace plumb
