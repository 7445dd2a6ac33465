// RolloutController across replicas sharing a PostgreSQL store (issue 16, docs/postgresql.md
// "Replicas"): the leader judges waves from every replica's outcome rows and writes the
// header; followers write their own agents' outcome rows and take the leader's header. Both
// re-read the stored rollout on Tick, at most every kRefreshEvery. Split from
// rollout_controller.cc to keep each file small; same class, same lock.

#include <utility>

#include "common/logging.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/rollout/rollout_controller.h"

namespace plumb {

void RolloutController::SetReplicated(std::function<bool()> is_leader, std::string environment) {
  absl::MutexLock lock(&mu_);
  is_leader_ = std::move(is_leader);
  environment_ = std::move(environment);
}

bool RolloutController::leads() const {
  absl::MutexLock lock(&mu_);
  return Leads();
}

bool RolloutController::StoredIsAnother() const {
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    if (!is_leader_ || Leads()) return false;
    id = state_.id();
  }
  absl::StatusOr<v1::RolloutState> stored = store_->GetRolloutState();
  return stored.ok() && stored->id() != id;
}

absl::StatusOr<bool> RolloutController::StoredIsFor(const std::string& sha,
                                                    int64_t fetched_ms) const {
  absl::StatusOr<v1::RolloutState> stored = store_->GetRolloutState();
  if (absl::IsNotFound(stored.status())) return true;
  if (!stored.ok()) return stored.status();
  return stored->target() == sha || stored->started_unix_ms() >= fetched_ms;
}

bool RolloutController::Refresh(std::vector<RolloutNode>* online, bool* fresh) {
  bool leader;
  uint64_t id;
  std::string environment;
  {
    absl::MutexLock lock(&mu_);
    if (!is_leader_ || !Active()) return false;
    leader = Leads();
    // The leader's own header is the truth; it needs the others' rows only to judge waves.
    if (leader && state_.phase() != v1::ROLLOUT_PROGRESSING) return false;
    // Aborted or rolled back: no action changes the header again (a new rollout does).
    if (state_.phase() == v1::ROLLOUT_ABORTED || state_.phase() == v1::ROLLOUT_ROLLED_BACK) {
      return false;
    }
    absl::Time now = clock_->Now();
    if (now - refreshed_ < kRefreshEvery) return false;
    refreshed_ = now;
    id = state_.id();
    environment = environment_;
  }
  absl::StatusOr<v1::RolloutState> stored = store_->GetRolloutState();
  // Another rollout: a follower takes it up with Restore (RevisionPoller::Follow).
  if (!stored.ok() || stored->id() != id) return false;
  std::vector<RolloutNode> others;
  if (leader) {
    // Nodes connected to any replica (presence rows) must report before their wave is done.
    absl::StatusOr<std::vector<v1::Node>> nodes =
        store_->ListNodes({}, v1::NODE_STATUS_UNSPECIFIED);
    if (!nodes.ok()) {
      LogWarning("rollout: listing the fleet's nodes failed", {{"error", nodes.status().message()}});
      return false;  // judged at the next tick, not on this replica's nodes alone
    }
    for (const v1::Node& n : *nodes) {
      if (!n.connected() || n.status() == v1::NODE_REVOKED || n.environment() != environment) {
        continue;
      }
      others.push_back({n.name(), {n.labels().begin(), n.labels().end()}});
    }
  }
  absl::MutexLock lock(&mu_);
  if (state_.id() != id) return false;  // a new rollout started meanwhile
  online->insert(online->end(), others.begin(), others.end());
  *fresh = leader;
  return MergeStored(std::move(*stored), leader);
}

bool RolloutController::MergeStored(v1::RolloutState stored, bool leader) {
  for (const auto& [name, r] : stored.nodes()) {
    auto it = state_.nodes().find(name);
    // Outcomes only move forward (served, succeeded, failed); a stored row another replica
    // wrote is never written again from here. They feed the leader's judgement (Tick), not
    // this replica's agents' decisions: no re-offer for them.
    if (it != state_.nodes().end() && it->second.outcome() >= r.outcome()) continue;
    (*state_.mutable_nodes())[name] = r;
  }
  bool changed = false;
  if (!leader) {
    // The leader's header (phase, wave, bake, halt, rollback) over this copy's.
    google::protobuf::Map<std::string, v1::RolloutNodeResult> nodes;
    nodes.swap(*state_.mutable_nodes());
    stored.clear_nodes();
    if (!google::protobuf::util::MessageDifferencer::Equals(stored, state_)) {
      state_ = std::move(stored);
      SetPolicy();
      changed = true;
    }
    nodes.swap(*state_.mutable_nodes());
  }
  if (changed) ++epoch_;
  return changed;
}

}  // namespace plumb
