#pragma once

// A generated desired-state repository held in memory, and the node inputs of a synthetic
// fleet, for the micro-benchmarks. Its shape (modules, templates, targets by role and data
// centre) is the one bench/fleet.sh writes to disk for the end-to-end load test.

#include <map>
#include <string>
#include <vector>

#include "common/compiler/compiler.h"
#include "common/compiler/repo_tree.h"

namespace plumb {
namespace bench {

// A repository held in memory: path -> content. Immutable; thread-safe.
class MemoryTree : public RepoTree {
 public:
  explicit MemoryTree(std::map<std::string, std::string> files) : files_(std::move(files)) {}
  absl::StatusOr<std::string> ReadFile(absl::string_view path) const override;
  absl::StatusOr<std::vector<std::string>> ListDir(absl::string_view path) const override;

 private:
  std::map<std::string, std::string> files_;
};

// Variants of the generated repository.
struct BenchRepoOptions {
  // When true the base module's motd template reads node.name, so every node is its own
  // compile group (the worst case for catalog sharing).
  bool per_node_template = false;
  // Changes one line of the web module (a "one-module change" revision).
  int web_edition = 0;
};

// plumb.yaml and modules base, ssh, ntp, web, db, cache: about 40 resources per node.
std::map<std::string, std::string> GenerateRepo(const BenchRepoOptions& options);

// `count` nodes named node-00000..., labels role (web|db|cache|worker) and dc (a..e): 20
// distinct label sets.
std::vector<NodeInputs> GenerateNodes(int count);

// A repository of one module holding `files` file resources of ~200 bytes (mode 0644) under
// /srv/bench, for the apply benchmark.
std::map<std::string, std::string> GenerateFilesRepo(int files);

}  // namespace bench
}  // namespace plumb
