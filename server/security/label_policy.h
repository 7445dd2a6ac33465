#pragma once

// Which labels a node has: the labels bound to it at enrollment, plus those of its Hello whose
// keys the join token allowed (`plumbctl token create --allow-label KEY`, or '*'). A node not
// enrolled here (--insecure, or certificates from an outside PKI) has the labels of its Hello.

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace plumb {

// "--allow-label '*'": Hello may set any key (the bound ones still win).
inline constexpr char kAnyLabelKey[] = "*";

// Limits on a token's allowed keys, checked when the token is created.
inline constexpr size_t kMaxAllowedLabelKeys = 64;
inline constexpr size_t kMaxLabelKeyLength = 128;

// The outcome of merging a Hello's labels with an enrolled node's grant.
struct NodeLabels {
  std::map<std::string, std::string> labels;
  // Hello labels that were not taken (key not allowed, or a bound key with another value),
  // sorted by key, as "key=value": for the warning and the node's event.
  std::vector<std::string> ignored;
};

// The node's labels. `allowed_keys` unset: not enrolled here, Hello decides (bound labels, if
// any, still override). Set: only Hello labels with an allowed key are taken.
NodeLabels MergeHelloLabels(const std::map<std::string, std::string>& hello,
                            const std::map<std::string, std::string>& bound,
                            const std::optional<std::set<std::string>>& allowed_keys);

// InvalidArgument naming the problem for `--allow-label` values that are empty, too long or
// too many.
absl::Status CheckAllowedLabelKeys(const std::vector<std::string>& keys);

}  // namespace plumb
