#pragma once

// The `rollout:` policy of plumb.yaml, parsed and validated by the compiler (the parser is
// compile::ParseRolloutPolicy in desired_state_model.h; the format is in
// docs/repository-format.md, the meaning in docs/rollouts.md). Which wave a node is in:
// common/compiler/rollout_waves.h. The server enforces it: server/rollout/rollout_controller.h.

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

// Limits on what a commit may write under `rollout:` (checked in rollout_policy.cc; over one,
// a located compile error names the key).
inline constexpr size_t kMaxRolloutWaves = 64;
inline constexpr size_t kMaxRolloutWaveGlobs = 256;   // nodes: per wave
inline constexpr size_t kMaxRolloutWaveLabels = 64;   // labels: per wave
inline constexpr size_t kMaxRolloutNameBytes = 128;   // a wave's name
inline constexpr size_t kMaxRolloutHealthExecBytes = 4096;
inline constexpr absl::Duration kDefaultHealthTimeout = absl::Seconds(30);

// One wave of a rollout. Exactly one selector is set: node_globs (non-empty), labels
// (non-empty) or percent (1..100). Plain data; thread-compatible.
struct RolloutWave {
  enum class Selector { kNodes, kLabels, kPercent };
  std::string name;      // as written, or "wave N" (1-based) when the wave has no name
  std::string location;  // "plumb.yaml:LINE:COL" of the wave
  Selector selector = Selector::kPercent;
  std::vector<std::string> node_globs;        // fnmatch globs on the node name; any matches
  std::map<std::string, std::string> labels;  // all must equal the node's
  uint32_t percent = 0;                       // cumulative hash bucket bound, 1..100
  absl::Duration bake = absl::ZeroDuration();
};

// How many failed nodes a wave tolerates: a count, or a percentage of the wave's size
// (resolved by MaxFailedFor in rollout_waves.h).
struct MaxFailed {
  bool is_percent = false;
  uint32_t value = 0;  // a count, or 0..100 when is_percent
};

// The whole policy. Plain data; thread-compatible.
struct RolloutPolicy {
  enum class OnFailure { kHalt, kRollback };
  enum class Offline { kSkip };
  std::string location;  // "plumb.yaml:LINE:COL" of the `rollout:` map
  std::vector<RolloutWave> waves;  // at least one, in order
  MaxFailed max_failed;            // default 0: the first failure halts the wave
  std::string health_exec;         // "" = no health check
  absl::Duration health_timeout = kDefaultHealthTimeout;
  Offline offline = Offline::kSkip;
  OnFailure on_failure = OnFailure::kHalt;

  // True when the last wave takes every node left (`percent: 100`, or `nodes` with a glob
  // "*"); otherwise nodes no wave matches go into an implicit final wave.
  bool HasCatchAll() const;
};

// The policy as kept on v1::Revision.
v1::RolloutPolicy RolloutPolicyToProto(const RolloutPolicy& policy);

}  // namespace plumb
