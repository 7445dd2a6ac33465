#pragma once

// Which wave of a rollout policy each node is in, and how many failures a wave tolerates.
// Pure, deterministic functions: the same policy and node gives the same wave on every server,
// every run, whatever else is in the fleet and in whatever order nodes are listed.
//
// The rule (also in docs/rollouts.md):
//  - Every node has a hash bucket in [0, 100): the first 8 bytes of SHA-256(node name), read
//    big-endian as an unsigned 64-bit integer, modulo 100 (RolloutBucket). It depends on the
//    name alone, so the same nodes are canaries every time and a node joining or leaving the
//    fleet moves no other node.
//  - Waves are tried in order; a node is in the FIRST wave that takes it:
//      nodes: [globs]   takes a node whose name matches any glob (fnmatch, no flags);
//      labels: {k: v}   takes a node that has every one of those labels with those values;
//      percent: P       takes a node whose bucket is < P.
//    So `percent` is cumulative: after `percent: 5`, `percent: 25` adds buckets 5..24, i.e.
//    about 20% more of the fleet. Nodes an earlier nodes/labels wave took stay in that wave
//    and are not counted again; the share is by hash bucket, so with few nodes it is only
//    approximate (10 nodes with `percent: 25` may give 1 node or 4).
//  - A node no wave takes goes into an implicit final wave named "rest" (index
//    policy.waves.size(), no bake). It exists only when the policy's last wave is not a catch-all
//    (RolloutPolicy::HasCatchAll: `percent: 100` or a `nodes` glob "*").

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/compiler/rollout_policy.h"

namespace plumb {

// The name of the implicit final wave.
inline constexpr char kImplicitWaveName[] = "rest";

// A node as wave membership sees it.
struct RolloutNode {
  std::string name;
  std::map<std::string, std::string> labels;
};

// One wave of a plan: its nodes, sorted by name.
struct WaveAssignment {
  std::string name;
  bool implicit = false;  // the "rest" wave
  uint32_t max_failed = 0;  // MaxFailedFor(policy.max_failed, nodes.size())
  std::vector<std::string> nodes;
};

// The node's hash bucket, in [0, 100).
uint32_t RolloutBucket(absl::string_view node_name);

// The index of the node's wave in policy.waves, or policy.waves.size() for the implicit wave.
size_t WaveIndexOf(const RolloutPolicy& policy, const RolloutNode& node);

// Every node in exactly one wave. The result has one entry per policy wave, in order (empty
// waves included), plus the implicit wave when !policy.HasCatchAll() (even when empty). Nodes
// must have distinct names (a repeated name is placed once per entry).
std::vector<WaveAssignment> AssignWaves(const RolloutPolicy& policy,
                                        const std::vector<RolloutNode>& nodes);

// How many failed nodes a wave of `wave_size` nodes tolerates: more than this halts the
// rollout. A count is used as written; a percentage rounds DOWN: floor(wave_size * p / 100),
// so "10%" of 5 nodes is 0 (the first failure halts) and "100%" never halts.
uint32_t MaxFailedFor(const MaxFailed& max_failed, size_t wave_size);

}  // namespace plumb
