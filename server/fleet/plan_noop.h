#pragma once

// plumbctl plan --noop-sample N (docs/plan.md): after a plan is grouped, asks up to N connected
// nodes of each change group to run the planned catalog, compiled for that node, in noop mode
// (StreamHub::SendNoop), waits for their answers up to a timeout, and adds what each reported to
// its group. Nothing is applied, stored or changed on any node row; the agents' own catalogs
// stay (agent/noop_runner.h).

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "common/clock.h"
#include "common/compiler/compiler.h"
#include "plumb/v1/fleet.pb.h"
#include "server/sync/stream_hub.h"

namespace plumb {

// Thread-safe (each Sample works on its own state; the hub and its NoopRequests are).
class NoopSampler {
 public:
  // Bounds, so that a plan cannot flood the fleet: nodes per group and per plan, and the wait.
  // Besides, NoopRequests allows one outstanding sample per agent and
  // NoopRequests::kMaxOutstanding over all plans.
  static constexpr int kMaxPerGroup = 10;
  static constexpr int kMaxPerPlan = 50;
  static constexpr absl::Duration kDefaultTimeout = absl::Seconds(30);
  static constexpr absl::Duration kMaxTimeout = absl::Seconds(300);
  // What one sample may add to the plan answer (it stays far under gRPC's 4 MiB): results that
  // are not UNCHANGED, their messages and diffs; the rest is cut and said in `truncated`.
  static constexpr int kMaxResultsPerSample = 100;
  static constexpr size_t kMaxMessageBytes = 1024;
  static constexpr size_t kMaxDiffBytesPerSample = 16 * 1024;

  // Neither owned; both outlive the sampler.
  NoopSampler(StreamHub* hub, Clock* clock) : hub_(hub), clock_(clock) {}

  // For each group of `plan` (largest first), samples up to `request.noop_sample()` nodes of
  // `connected` (by name, with the inputs they were planned with), compiling `to` for each,
  // and fills the groups' noop_samples. Blocks up to the request's timeout.
  void Sample(const v1::PlanRequest& request, const DesiredState& to,
              const std::map<std::string, NodeInputs>& connected, v1::PlanResponse* plan);

 private:
  // Compiles `to` for `node` and sends it; returns the request id, or "" with `sample`'s error
  // set when it could not be sent.
  std::string Send(const DesiredState& to, const NodeInputs& node, v1::PlanNoopSample* sample);

  StreamHub* const hub_;
  Clock* const clock_;
};

// Which nodes a plan samples: per group in order, the first `per_group` (at most kMaxPerGroup)
// of its nodes that `connected` accepts, kMaxPerPlan in all. Returns (group index, node) pairs
// and sets plan->noop_note when a cap cut the sampling short.
std::vector<std::pair<int, std::string>> PickNoopSamples(
    int per_group, const std::function<bool(const std::string&)>& connected,
    v1::PlanResponse* plan);

// Fills `sample` from what the node answered: its results that are not UNCHANGED, bounded as
// NoopSampler's limits say; or the error; or answered=false.
void FillNoopSample(const NoopOutcome& outcome, v1::PlanNoopSample* sample);

}  // namespace plumb
