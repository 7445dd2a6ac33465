#include "agent/engine/resource_graph.h"

#include <algorithm>
#include <functional>
#include <queue>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace plumb {

ResourceGraph::ResourceGraph(const v1::Catalog& catalog) {
  const int n = catalog.resources_size();
  dependencies_.resize(n);
  dependents_.resize(n);
  notifiers_.resize(n);
  errors_.resize(n);
  std::unordered_map<std::string, int> index;
  for (int i = 0; i < n; ++i) {
    const v1::Resource& r = catalog.resources(i);
    ids_.push_back(r.id());
    if (!index.emplace(r.id(), i).second) {
      errors_[i] = absl::StrCat("duplicate resource id ", r.id());
    }
  }
  auto resolve = [&](int i, const std::string& ref, const char* relation) -> int {
    auto it = index.find(ref);
    if (it != index.end()) return it->second;
    if (errors_[i].empty()) {
      errors_[i] = absl::StrCat(relation, " names unknown resource ", ref);
    }
    return -1;
  };
  for (int i = 0; i < n; ++i) {
    const v1::Resource& r = catalog.resources(i);
    for (const std::string& ref : r.require()) {
      if (int j = resolve(i, ref, "require"); j >= 0) AddEdge(j, i);
    }
    for (const std::string& ref : r.before()) {
      if (int j = resolve(i, ref, "before"); j >= 0) AddEdge(i, j);
    }
    for (const std::string& ref : r.notify()) {
      if (int j = resolve(i, ref, "notify"); j >= 0) {
        AddEdge(i, j);
        if (std::find(notifiers_[j].begin(), notifiers_[j].end(), i) == notifiers_[j].end()) {
          notifiers_[j].push_back(i);
        }
      }
    }
    for (const std::string& ref : r.subscribe()) {
      if (int j = resolve(i, ref, "subscribe"); j >= 0) {
        AddEdge(j, i);
        if (std::find(notifiers_[i].begin(), notifiers_[i].end(), j) == notifiers_[i].end()) {
          notifiers_[i].push_back(j);
        }
      }
    }
  }
  Sort();
}

void ResourceGraph::AddEdge(int from, int to) {
  std::vector<int>& deps = dependencies_[to];
  if (std::find(deps.begin(), deps.end(), from) != deps.end()) return;
  deps.push_back(from);
  dependents_[from].push_back(to);
}

// Kahn's algorithm with a min-heap on catalog position, so that among the resources ready to
// go the earliest in the catalog always goes first.
void ResourceGraph::Sort() {
  const int n = static_cast<int>(ids_.size());
  std::vector<int> indegree(n);
  std::priority_queue<int, std::vector<int>, std::greater<int>> ready;
  for (int i = 0; i < n; ++i) {
    indegree[i] = static_cast<int>(dependencies_[i].size());
    if (indegree[i] == 0) ready.push(i);
  }
  while (!ready.empty()) {
    int i = ready.top();
    ready.pop();
    order_.push_back(i);
    for (int next : dependents_[i]) {
      if (--indegree[next] == 0) ready.push(next);
    }
  }
  if (static_cast<int>(order_.size()) == n) return;
  std::vector<bool> remaining(n, false);
  for (int i = 0; i < n; ++i) remaining[i] = indegree[i] > 0;
  std::string cycle = DescribeCycle(remaining);
  for (int i = 0; i < n; ++i) {
    if (!remaining[i]) continue;
    order_.push_back(i);
    if (errors_[i].empty()) errors_[i] = absl::StrCat("on or behind a dependency cycle: ", cycle);
  }
}

// Finds one cycle among the `remaining` resources: "a -> b -> a" (in apply direction).
std::string ResourceGraph::DescribeCycle(const std::vector<bool>& remaining) const {
  const int n = static_cast<int>(ids_.size());
  std::vector<int> state(n, 0);  // 0 new, 1 on the DFS stack, 2 done
  std::vector<int> stack;
  std::function<bool(int)> visit = [&](int i) -> bool {
    state[i] = 1;
    stack.push_back(i);
    for (int next : dependents_[i]) {
      if (!remaining[next]) continue;
      if (state[next] == 1) {
        auto start = std::find(stack.begin(), stack.end(), next);
        stack.erase(stack.begin(), start);
        stack.push_back(next);
        return true;
      }
      if (state[next] == 0 && visit(next)) return true;
    }
    stack.pop_back();
    state[i] = 2;
    return false;
  };
  for (int i = 0; i < n; ++i) {
    if (remaining[i] && state[i] == 0 && visit(i)) {
      std::vector<std::string> names;
      for (int j : stack) names.push_back(ids_[j]);
      return absl::StrJoin(names, " -> ");
    }
  }
  return "(unknown)";
}

}  // namespace plumb
