// RolloutController across replicas sharing a PostgreSQL store (issue 16, docs/postgresql.md
// "Replicas"): the leader judges waves from every replica's outcome rows and writes the
// header; followers write their own agents' outcome rows and take the leader's header. Both
// re-read the stored rollout at most every kRefreshEvery, on a reader thread of their own
// (Tick, on the hub's thread, asks for a read and takes the last one). Split from
// rollout_controller.cc to keep each file small; same class, same lock.

#include <utility>

#include "common/logging.h"
#include "google/protobuf/util/message_differencer.h"
#include "server/rollout/rollout_controller.h"

namespace plumb {

void RolloutController::SetReplicated(std::function<bool()> is_leader, std::string environment) {
  {
    absl::MutexLock lock(&mu_);
    is_leader_ = std::move(is_leader);
    environment_ = std::move(environment);
  }
  if (!reader_.joinable()) reader_ = std::thread([this] { ReadLoop(); });
}

uint64_t RolloutController::reads_taken() const {
  absl::MutexLock lock(&mu_);
  return reads_taken_;
}

bool RolloutController::read_pending() const {
  absl::MutexLock lock(&mu_);
  return read_wanted_ || reading_ || read_.has_value();
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

bool RolloutController::TakeStoredHeader() {
  uint64_t id;
  {
    absl::MutexLock lock(&mu_);
    if (!is_leader_ || Leads()) return false;
    id = state_.id();
  }
  absl::StatusOr<v1::RolloutState> stored = store_->GetRolloutState();
  if (!stored.ok()) {
    LogWarning("rollout: reading the leader's header failed (taken at the next tick)",
               {{"error", stored.status().message()}});
    return false;
  }
  absl::MutexLock lock(&mu_);
  if (stored->id() != id || state_.id() != id) return false;
  return MergeStored(std::move(*stored), /*leader=*/false);
}

absl::StatusOr<bool> RolloutController::StoredIsFor(const std::string& sha,
                                                    int64_t fetched_ms) const {
  absl::StatusOr<v1::RolloutState> stored = store_->GetRolloutState();
  if (absl::IsNotFound(stored.status())) return true;
  if (!stored.ok()) return stored.status();
  return stored->target() == sha || stored->started_unix_ms() >= fetched_ms;
}

bool RolloutController::Refresh(std::vector<RolloutNode>* online, bool* fresh) {
  absl::MutexLock lock(&mu_);
  if (!is_leader_) return false;
  bool leader = Leads();
  // The leader's own header is the truth; it needs the others' rows only to judge waves.
  // Aborted or rolled back: no action changes the header again (a new rollout does).
  bool wanted = Active() && (!leader || state_.phase() == v1::ROLLOUT_PROGRESSING) &&
                state_.phase() != v1::ROLLOUT_ABORTED &&
                state_.phase() != v1::ROLLOUT_ROLLED_BACK;
  bool changed = false;
  if (read_.has_value()) {
    StoredRead read = std::move(*read_);
    read_.reset();
    ++reads_taken_;
    // A read of another rollout (a new one started meanwhile; a follower takes that up with
    // Restore, RevisionPoller::Follow), or made in the other role, is void; so is one asked
    // for over two intervals ago (its presence is old).
    if (wanted && read.ok && read.id == state_.id() && read.leader == leader &&
        clock_->Now() - read.asked <= 2 * kRefreshEvery) {
      online->insert(online->end(), read.others.begin(), read.others.end());
      *fresh = leader;
      changed = MergeStored(std::move(read.stored), leader);
    }
  }
  absl::Time now = clock_->Now();
  if (wanted && !read_wanted_ && !reading_ && !read_.has_value() &&
      now - refreshed_ >= kRefreshEvery) {
    refreshed_ = now;
    read_wanted_ = true;  // the reader wakes on mu_'s release
    read_id_ = state_.id();
    read_leader_ = leader;
    read_asked_ = now;
  }
  return changed;
}

void RolloutController::ReadLoop() {
  while (true) {
    uint64_t id;
    bool leader;
    absl::Time asked;
    std::string environment;
    {
      absl::MutexLock lock(&mu_);
      auto wanted = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return read_wanted_ || stopping_;
      };
      mu_.Await(absl::Condition(&wanted));
      if (stopping_) return;
      read_wanted_ = false;
      reading_ = true;
      id = read_id_;
      leader = read_leader_;
      asked = read_asked_;
      environment = environment_;
    }
    StoredRead read = ReadStored(id, leader, environment);
    read.asked = asked;
    absl::MutexLock lock(&mu_);
    reading_ = false;
    read_ = std::move(read);
  }
}

RolloutController::StoredRead RolloutController::ReadStored(uint64_t id, bool leader,
                                                            const std::string& environment) {
  StoredRead read;
  read.id = id;
  read.leader = leader;
  absl::StatusOr<v1::RolloutState> stored = store_->GetRolloutState();
  if (!stored.ok() || stored->id() != id) return read;
  if (leader) {
    // Nodes connected to any replica (presence rows) must report before their wave is done.
    absl::StatusOr<std::vector<v1::Node>> nodes =
        store_->ListNodes({}, v1::NODE_STATUS_UNSPECIFIED);
    if (!nodes.ok()) {
      LogWarning("rollout: listing the fleet's nodes failed", {{"error", nodes.status().message()}});
      return read;  // judged after the next read, not on this replica's nodes alone
    }
    for (const v1::Node& n : *nodes) {
      if (!n.connected() || n.status() == v1::NODE_REVOKED || n.environment() != environment) {
        continue;
      }
      read.others.push_back({n.name(), {n.labels().begin(), n.labels().end()}});
    }
  }
  read.stored = std::move(*stored);
  read.ok = true;
  return read;
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
