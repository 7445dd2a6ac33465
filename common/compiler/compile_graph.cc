#include "common/compiler/compile_graph.h"

#include <algorithm>
#include <string>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/compiler/compile_values.h"

namespace plumb::compile {

namespace {

using Graph = std::vector<std::vector<int>>;  // node -> nodes that must apply after it

// Depth-first search from every node in catalog order, without recursion (catalogs can be
// long chains). Every back edge closes a cycle; a cycle touching nodes already reported is
// skipped so one knot gives one error.
std::vector<std::vector<int>> FindCycles(const Graph& graph) {
  enum Color { kWhite, kGray, kBlack };
  std::vector<Color> color(graph.size(), kWhite);
  std::vector<bool> reported(graph.size(), false);
  std::vector<std::vector<int>> cycles;
  for (size_t start = 0; start < graph.size(); ++start) {
    if (color[start] != kWhite) continue;
    std::vector<std::pair<int, size_t>> stack = {{static_cast<int>(start), 0}};
    color[start] = kGray;
    while (!stack.empty()) {
      auto& [node, next] = stack.back();
      if (next == graph[node].size()) {
        color[node] = kBlack;
        stack.pop_back();
        continue;
      }
      int to = graph[node][next++];
      if (color[to] == kWhite) {
        color[to] = kGray;
        stack.emplace_back(to, 0);
      } else if (color[to] == kGray && !reported[to]) {
        std::vector<int> cycle;
        for (auto it = stack.rbegin(); it != stack.rend(); ++it) {
          cycle.push_back(it->first);
          if (it->first == to) break;
        }
        std::reverse(cycle.begin(), cycle.end());
        bool fresh = std::none_of(cycle.begin(), cycle.end(), [&](int n) { return reported[n]; });
        for (int n : cycle) reported[n] = true;
        if (fresh) cycles.push_back(std::move(cycle));
      }
    }
  }
  return cycles;
}

}  // namespace

void CheckRelations(const v1::Catalog& catalog,
                    const std::vector<const std::vector<RelationRef>*>& relations,
                    ErrorList* errors) {
  absl::flat_hash_map<std::string, int> index;
  for (int i = 0; i < catalog.resources_size(); ++i) index[catalog.resources(i).id()] = i;
  Graph graph(catalog.resources_size());
  for (int i = 0; i < catalog.resources_size(); ++i) {
    for (const RelationRef& ref : *relations[i]) {
      auto it = index.find(ref.id);
      if (it == index.end()) {
        errors->Add(ref.location, absl::StrCat(ref.kind, " ", Quote(ref.id),
                                               ": no such resource in the node's catalog"));
        continue;
      }
      // Edges point from what applies first to what applies after it.
      if (ref.kind == "require" || ref.kind == "subscribe") {
        graph[it->second].push_back(i);
      } else {
        graph[i].push_back(it->second);
      }
    }
  }
  for (std::vector<int> cycle : FindCycles(graph)) {
    // Start at the member first in the catalog, so the message is stable.
    std::rotate(cycle.begin(), std::min_element(cycle.begin(), cycle.end()), cycle.end());
    std::vector<std::string> ids;
    for (int n : cycle) ids.push_back(catalog.resources(n).id());
    ids.push_back(ids.front());
    errors->Add(catalog.resources(cycle.front()).source_location(),
                absl::StrCat("dependency cycle: ", absl::StrJoin(ids, " -> ")));
  }
}

}  // namespace plumb::compile
