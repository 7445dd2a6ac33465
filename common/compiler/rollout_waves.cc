// Wave membership and max_failed resolution; the rule is documented in rollout_waves.h.

#include "common/compiler/rollout_waves.h"

#include <fnmatch.h>

#include <algorithm>

#include "common/digest.h"

namespace plumb {

namespace {

bool Takes(const RolloutWave& wave, const RolloutNode& node, uint32_t bucket) {
  switch (wave.selector) {
    case RolloutWave::Selector::kNodes:
      for (const std::string& glob : wave.node_globs) {
        if (fnmatch(glob.c_str(), node.name.c_str(), 0) == 0) return true;
      }
      return false;
    case RolloutWave::Selector::kLabels:
      for (const auto& [key, want] : wave.labels) {
        auto it = node.labels.find(key);
        if (it == node.labels.end() || it->second != want) return false;
      }
      return true;
    case RolloutWave::Selector::kPercent:
      return bucket < wave.percent;
  }
  return false;
}

}  // namespace

uint32_t RolloutBucket(absl::string_view node_name) {
  std::string hex = Sha256Hex(node_name);
  uint64_t value = 0;
  for (size_t i = 0; i < 16; ++i) {  // 16 hex digits = the first 8 bytes, big-endian
    char c = hex[i];
    value = value * 16 + static_cast<uint64_t>(c <= '9' ? c - '0' : c - 'a' + 10);
  }
  return static_cast<uint32_t>(value % 100);
}

size_t WaveIndexOf(const RolloutPolicy& policy, const RolloutNode& node) {
  uint32_t bucket = RolloutBucket(node.name);
  for (size_t i = 0; i < policy.waves.size(); ++i) {
    if (Takes(policy.waves[i], node, bucket)) return i;
  }
  return policy.waves.size();
}

std::vector<WaveAssignment> AssignWaves(const RolloutPolicy& policy,
                                        const std::vector<RolloutNode>& nodes) {
  std::vector<WaveAssignment> plan(policy.waves.size());
  for (size_t i = 0; i < policy.waves.size(); ++i) plan[i].name = policy.waves[i].name;
  WaveAssignment rest;
  rest.name = kImplicitWaveName;
  rest.implicit = true;
  for (const RolloutNode& node : nodes) {
    size_t index = WaveIndexOf(policy, node);
    (index < plan.size() ? plan[index] : rest).nodes.push_back(node.name);
  }
  // A catch-all last wave leaves nobody for the implicit one.
  if (!policy.HasCatchAll()) plan.push_back(std::move(rest));
  for (WaveAssignment& wave : plan) {
    std::sort(wave.nodes.begin(), wave.nodes.end());
    wave.max_failed = MaxFailedFor(policy.max_failed, wave.nodes.size());
  }
  return plan;
}

uint32_t MaxFailedFor(const MaxFailed& max_failed, size_t wave_size) {
  if (!max_failed.is_percent) return max_failed.value;
  uint64_t percent = std::min<uint32_t>(max_failed.value, 100);
  return static_cast<uint32_t>(static_cast<uint64_t>(wave_size) * percent / 100);
}

}  // namespace plumb
