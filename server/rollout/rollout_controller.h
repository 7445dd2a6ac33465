#pragma once

// Enforces a revision's `rollout:` policy (docs/rollouts.md): which revision each node is
// served while a rollout runs (its wave reached: the target; otherwise the previous good
// revision; halted with rollback: the previous one again), what each node's runs of the target
// said, and when the next wave starts (every online node of the current wave reported, no more
// than max_failed failed, and the bake time passed). Time comes from the injected Clock;
// Tick() advances waves. The whole state is one v1::RolloutState, stored on every change
// (Store::PutRolloutState) and read back by Restore() after a restart.

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/compiler/rollout_waves.h"
#include "plumb/v1/fleet.pb.h"
#include "server/fleet/event_bus.h"
#include "server/store/store.h"

namespace plumb {

// What a node is served now.
struct RolloutDecision {
  std::string revision;   // empty: no rollout constrains the node (serve the newest revision)
  bool rollback = false;  // the catalog rolls the node back (its run reports trigger ROLLBACK)
  v1::HealthCheck health;  // the policy's health check when `revision` is the target
};

// A connected node as the controller sees it.
using RolloutMember = RolloutNode;

// Thread-safe (one mutex; store writes happen under it, so they are serialized).
class RolloutController {
 public:
  // Nothing owned; all must outlive the controller. `events` may be null.
  RolloutController(Store* store, Clock* clock, EventBus* events = nullptr);

  // Loads the stored state (none stored: no rollout).
  absl::Status Restore();

  // A new good revision `sha` is now the newest (`serving_before` was, "" if none). With a
  // policy, it starts a rollout at the first wave, superseding a running one (nodes not yet
  // updated stay on that one's previous revision and never apply it). Without one, or with
  // nothing served before, every node gets `sha` at once. Returns the revision nodes not yet
  // reached are served ("" when none).
  std::string OnNewRevision(const std::string& sha, const std::string& serving_before,
                            const v1::RolloutPolicy* policy);

  // The operator's rollback (FleetService.Rollback) to `to`, a good revision the caller made
  // live: with `now` (or no policy) every node gets it at once; otherwise it rolls out through
  // `policy` (null: the current rollout's) from the first wave, nodes not reached yet staying on
  // the current target.
  void RollBackTo(const std::string& to, const v1::RolloutPolicy* policy, bool now);
  // The revision nodes a new rollout has not reached stay on: the running rollout's previous
  // one, else the last rollout's target, else `serving`.
  std::string BaseRevision(const std::string& serving) const;
  // The previous good revision of the running (or last) rollout ("" when none is known).
  std::string previous_revision() const;
  // Every revision a decision may name now (target, previous while active, pins).
  std::set<std::string> live_revisions() const;

  RolloutDecision Decide(const RolloutNode& node) const;
  // The node was sent (or already holds) `revision`.
  void OnServed(const RolloutNode& node, const std::string& revision);
  // A report of the node's run: one of the target counts as a success or a failure.
  void OnReport(const RolloutNode& node, const v1::Report& report);
  // Halts on too many failures, starts the next wave when the current one is done and baked.
  // `online`: the connected nodes. True if any node's decision may have changed.
  bool Tick(const std::vector<RolloutNode>& online);

  // Pins (plumbctl pin): a pinned node is served its pin's revision whatever the rollout says,
  // and neither blocks nor counts in a wave. Replaces every pin (node -> sha).
  void SetPins(std::map<std::string, std::string> pins);
  // The revisions nodes are pinned to.
  std::set<std::string> pinned_revisions() const;

  // Changes whenever any decision may change (the hub re-offers catalogs then).
  uint64_t epoch() const;
  // The revision besides the newest that nodes may be served now ("" when none).
  std::string stable_revision() const;
  // Per-wave counts over `known` nodes (connected ones are online).
  v1::RolloutStatus Status(const std::vector<v1::Node>& known) const;

  // Operator actions (FleetService.ControlRollout). FailedPrecondition when the rollout is not
  // in a phase that allows it. `wave` for Promote: 1-based wave to start now; 0 = the next.
  absl::Status Pause();
  absl::Status Resume();
  absl::Status Abort();
  absl::Status Promote(int wave);

 private:
  size_t WaveCount() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  size_t WaveOf(const RolloutNode& node) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string WaveName(size_t wave) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Active() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Halts (or rolls back) if a reached wave has more failures than it tolerates.
  bool CheckHalt(const std::vector<RolloutNode>& online) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts the next wave if the current one is done and baked; true if it did.
  bool MaybeAdvance(const std::vector<RolloutNode>& online) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartWave(size_t wave) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Changed() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Persist() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Publish(v1::EventKind kind, const std::string& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetPolicy() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Store* const store_;
  Clock* const clock_;
  EventBus* const events_;

  mutable absl::Mutex mu_;
  v1::RolloutState state_ ABSL_GUARDED_BY(mu_);
  RolloutPolicy policy_ ABSL_GUARDED_BY(mu_);  // state_.policy, for wave membership
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, std::string> pins_ ABSL_GUARDED_BY(mu_);
};

// The policy as the compiler's wave functions take it (the inverse of RolloutPolicyToProto).
RolloutPolicy RolloutPolicyFromProto(const v1::RolloutPolicy& proto);

// "progressing", "halted", ... for people (plumbctl, events).
std::string RolloutPhaseName(v1::RolloutPhase phase);

}  // namespace plumb
