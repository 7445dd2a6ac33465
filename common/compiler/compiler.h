#pragma once

// The desired-state compiler: parses a repository (plumb.yaml + modules) at one revision and
// compiles the catalog of each node. Used by the server, by `plumbctl validate/render` and by
// masterless `plumb-agent apply`.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/compiler/repo_tree.h"
#include "common/compiler/rollout_policy.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

// What a node brings to its compile.
struct NodeInputs {
  std::string name;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> facts;  // dotted paths: "os.id" -> "debian"
};

// One problem found while compiling, located in the repository.
struct CompileError {
  std::string location;  // "modules/web/module.yaml:12:7" (file only when no line applies)
  std::string message;   // what is wrong, naming the offending value
  // True when the error comes from one node's inputs rather than from the repository: a label
  // or fact its templates read is missing (or is a map where a string is read), or its labels
  // select targets whose modules define the same resource. Such an error fails that node alone
  // (it keeps its last good catalog); every other error fails the whole revision.
  bool node_dependent = false;
  std::string ToString() const { return location.empty() ? message : location + ": " + message; }
};

// The outcome of compiling one node. On success `catalog` is set (sealed: versions and
// digest computed) and `blobs` holds every file content it names, by sha256 digest.
struct NodeCompileResult {
  std::shared_ptr<const v1::Catalog> catalog;
  std::map<std::string, std::shared_ptr<const std::string>> blobs;
  std::vector<CompileError> errors;
  bool ok() const { return errors.empty() && catalog != nullptr; }
};

// What CompileNode did since Parse, summed over every node compiled: templated resources
// rendered, and reused (rendered before, for this revision or the `previous` one given to
// Parse, with the same spec and the same inputs read).
struct CompileStats {
  int64_t templates_rendered = 0;
  int64_t templates_reused = 0;
};

// A parsed desired-state repository at one revision. Immutable after Parse (but for a cache
// of rendered templates and its counters); thread-safe.
class DesiredState {
 public:
  virtual ~DesiredState() = default;

  // Parses plumb.yaml and every module under modules/ from `tree`. Never fails as a whole:
  // everything found wrong is collected in errors(). With `previous` (an earlier revision of
  // the same repository, or null), what it rendered for resources whose spec and template
  // are unchanged is reused by CompileNode (incremental compilation; results are identical).
  static std::shared_ptr<const DesiredState> Parse(const RepoTree& tree, std::string revision,
                                                   const DesiredState* previous = nullptr);

  virtual const std::string& revision() const = 0;
  // Repository-level errors (YAML, schema, missing files). Non-empty: nothing is served.
  virtual const std::vector<CompileError>& errors() const = 0;
  bool ok() const { return errors().empty(); }

  // plumb.yaml's `rollout:` policy, or nullptr when there is none (or it is invalid, which
  // is among errors()). Lives as long as this DesiredState.
  virtual const RolloutPolicy* rollout() const = 0;

  // Compiles the catalog of one node: matched targets, vars, templates, references, cycles.
  virtual NodeCompileResult CompileNode(const NodeInputs& node) const = 0;

  // A key such that two nodes with equal keys get identical catalogs (the node's matched
  // targets and the inputs their modules actually read). Lets callers compile once per group.
  virtual std::string GroupKey(const NodeInputs& node) const = 0;

  // Counters of CompileNode's template work (tests, benchmarks).
  virtual CompileStats stats() const = 0;
};

}  // namespace plumb
