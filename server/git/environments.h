#pragma once

// server.yaml `environments:` (docs/configuration.md, "Environments"): which branch's revision
// line each node follows, chosen by the node's trusted labels. The mapping lives in the server's
// config only: no branch can claim nodes. Without the key the server follows repo.branch for
// every node, as one line named "" (Revision.environment).

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/yaml_document.h"

namespace plumb {

// At most this many environments (each fetches and compiles its branch).
inline constexpr size_t kMaxEnvironments = 32;
// Node.environment of a node no entry matches (it is served no catalog).
inline constexpr char kNoEnvironment[] = "-";

// One revision line: a branch and the nodes it reaches.
struct Environment {
  // The line's name in the store and the API (Revision.environment, `--env`): the branch, or ""
  // for the single line of a server without `environments:`.
  std::string name;
  std::string branch;
  // Every pair must be among the node's labels; empty: the default (every node no entry before
  // it matched).
  std::map<std::string, std::string> labels;
};

// Thread-compatible; immutable once built.
class Environments {
 public:
  // The single line of a server without `environments:`: every node follows `branch`.
  static Environments Single(const std::string& branch);
  // Parses the `environments:` list; `where` ("FILE:LINE:COL") names it in errors. Fails with
  // InvalidArgument naming the entry for: not a list of maps, an unknown key, a missing or
  // invalid branch, a branch listed twice, labels that are not a map of single values, more
  // than one default, entries after the default (they could never match), an empty list, or
  // more than kMaxEnvironments. No default is allowed: nodes matching no entry get no catalog.
  static absl::StatusOr<Environments> Parse(const YamlNode& list, const std::string& file);

  // False for Single(): Node.environment stays empty, `--env` lists the one line.
  bool configured() const { return configured_; }
  const std::vector<Environment>& all() const { return lines_; }
  // The index of the first entry whose labels are all among `labels`; -1 when none matches.
  int Match(const std::map<std::string, std::string>& labels) const;
  // The index of the line named `name`; -1 when there is none.
  int Find(const std::string& name) const;

 private:
  bool configured_ = false;
  std::vector<Environment> lines_;
};

}  // namespace plumb
