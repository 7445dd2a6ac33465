// RolloutController: the state in the Store (docs/rollouts.md, "Persistence"). The header row
// is written under the lock when the phase, wave or bake changes (rare); node outcomes, one row
// each, are noted in memory by OnServed/OnReport and stored in batches by the writer thread, so
// the hub's thread never waits for the disk on a report. After a restart, outcomes the writer
// had not stored are re-derived from the node rows and their last reports (Rederive).
// Split from rollout_controller.cc to keep each file small; same class, same lock.

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "server/rollout/rollout_controller.h"

namespace plumb {
namespace {

// How long the writer waits before it tries a failed batch again.
constexpr absl::Duration kRetryWrite = absl::Seconds(1);

std::vector<Store::RolloutNodeRow> Rows(std::map<std::string, v1::RolloutNodeResult> batch) {
  std::vector<Store::RolloutNodeRow> rows;
  rows.reserve(batch.size());
  for (auto& [node, result] : batch) rows.push_back({node, std::move(result)});
  return rows;
}

}  // namespace

RolloutController::RolloutController(Store* store, Clock* clock, EventBus* events)
    : store_(store), clock_(clock), events_(events) {
  writer_ = std::thread([this] { WriteLoop(); });
}

RolloutController::~RolloutController() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  writer_.join();
  if (reader_.joinable()) reader_.join();
  absl::Status status;
  while (WriteBatch(&status) && status.ok()) {
  }
  if (!status.ok()) {
    LogError("rollout outcomes not stored at shutdown (re-derived at the next start)",
             {{"error", status.message()}});
  }
}

absl::Status RolloutController::Restore() {
  absl::StatusOr<std::vector<v1::Pin>> pins = store_->ListPins();
  if (!pins.ok()) return pins.status();
  std::map<std::string, std::string> by_node;
  for (const v1::Pin& p : *pins) by_node[p.node()] = p.revision();
  SetPins(std::move(by_node));
  absl::StatusOr<v1::RolloutState> stored = store_->GetRolloutState();
  if (absl::IsNotFound(stored.status())) return absl::OkStatus();
  if (!stored.ok()) return stored.status();
  {
    absl::MutexLock lock(&mu_);
    if (stored->id() == state_.id() && stored->target() == state_.target()) {
      // Restored again (a follower replica taking up a revision): outcomes noted here and not
      // stored yet are newer than the stored rows.
      for (const auto& [node, result] : unsaved_) (*stored->mutable_nodes())[node] = result;
    } else {
      unsaved_.clear();
    }
    state_ = std::move(*stored);
    SetPolicy();
    ++epoch_;
    if (!Active()) return absl::OkStatus();
    LogInfo("rollout restored", {{"rev", state_.target().substr(0, 12)},
                                 {"phase", RolloutPhaseName(state_.phase())},
                                 {"wave", WaveName(state_.wave())},
                                 {"outcomes", state_.nodes_size()}});
  }
  return Rederive();
}

absl::Status RolloutController::Rederive() {
  std::string target;
  {
    absl::MutexLock lock(&mu_);
    target = state_.target();
  }
  absl::StatusOr<std::vector<v1::Node>> nodes =
      store_->ListNodes({}, v1::NODE_STATUS_UNSPECIFIED);
  if (!nodes.ok()) return nodes.status();
  int rederived = 0;
  for (const v1::Node& n : *nodes) {
    if (n.desired_revision() != target && n.applied_revision() != target) continue;
    RolloutNode node{n.name(), {n.labels().begin(), n.labels().end()}};
    v1::RolloutNodeResult r;
    {
      absl::MutexLock lock(&mu_);
      if (pins_.count(n.name()) > 0) continue;
      auto it = state_.nodes().find(n.name());
      if (it != state_.nodes().end() && it->second.outcome() != v1::ROLLOUT_NODE_SERVED) continue;
      r.set_wave(static_cast<uint32_t>(WaveOf(node)));
    }
    r.set_outcome(v1::ROLLOUT_NODE_SERVED);
    r.set_unix_ms(absl::ToUnixMillis(clock_->Now()));
    // The node's last report, if it is a run of the target, says how that run went (the report
    // was stored before the agent was told, so it survived whatever the writer lost).
    absl::StatusOr<v1::Report> last = absl::NotFoundError("no report");
    if (!n.last_report_id().empty()) last = store_->GetReport(n.last_report_id());
    if (last.ok() && last->revision() == target && !last->noop()) {
      std::string failure = RolloutRunFailure(*last);
      r.set_outcome(failure.empty() ? v1::ROLLOUT_NODE_SUCCEEDED : v1::ROLLOUT_NODE_FAILED);
      r.set_error(failure);
      if (last->started_unix_ms() > 0) r.set_unix_ms(last->started_unix_ms());
    }
    absl::MutexLock lock(&mu_);
    if (state_.target() != target) break;  // a new rollout started meanwhile
    auto it = state_.nodes().find(n.name());
    if (it != state_.nodes().end() && it->second.outcome() >= r.outcome()) continue;
    (*state_.mutable_nodes())[n.name()] = r;
    Record(n.name(), r);
    ++rederived;
  }
  absl::MutexLock lock(&mu_);
  if (rederived > 0) {
    ++epoch_;
    LogInfo("rollout outcomes re-derived from node rows", {{"nodes", rederived}});
  }
  return absl::OkStatus();
}

void RolloutController::Replace(v1::RolloutState next) {
  next.set_id(state_.id() + 1);
  state_ = std::move(next);
  unsaved_.clear();  // outcomes of the replaced rollout: its rows are deleted with the header
}

void RolloutController::Record(const std::string& node, const v1::RolloutNodeResult& result) {
  unsaved_[node] = result;  // the writer wakes on mu_'s release (HasUnsaved)
}

void RolloutController::Persist() {
  // Only the leader writes the header; a follower's outcomes go by the writer thread.
  if (!Leads()) return;
  // The header alone: the node map is swapped out (not copied) for the write.
  google::protobuf::Map<std::string, v1::RolloutNodeResult> nodes;
  nodes.swap(*state_.mutable_nodes());
  absl::Status stored = store_->PutRolloutState(state_);
  nodes.swap(*state_.mutable_nodes());
  if (stored.ok() && !unsaved_.empty()) {
    // With the header, the outcomes it was decided on (a wave started, a halt): never a header
    // ahead of its rows. Few: only what accrued since the writer's last batch.
    std::map<std::string, v1::RolloutNodeResult> batch;
    batch.swap(unsaved_);
    stored = store_->PutRolloutNodes(state_.id(), Rows(batch));
    if (!stored.ok()) unsaved_.merge(batch);  // noted again (newer ones kept)
    if (writing_) persisted_while_writing_ = true;
  }
  if (!stored.ok()) {
    // The state in memory still drives serving; a restart would resume from the last stored.
    LogError("storing the rollout state failed", {{"error", stored.message()}});
  }
}

bool RolloutController::WriteBatch(absl::Status* status) {
  std::map<std::string, v1::RolloutNodeResult> batch;
  uint64_t id = 0;
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(+[](bool* writing) { return !*writing; }, &writing_));
    if (unsaved_.empty()) return false;
    batch.swap(unsaved_);
    id = state_.id();
    writing_ = true;
  }
  *status = store_->PutRolloutNodes(id, Rows(batch));
  absl::MutexLock lock(&mu_);
  writing_ = false;
  if (state_.id() != id) return true;  // a new rollout: these rows are void
  bool rewrite = persisted_while_writing_ || !status->ok();
  persisted_while_writing_ = false;
  if (rewrite) {
    // Stored again from the state (newest), unless a newer outcome is already waiting:
    // Persist() may have stored newer outcomes of these nodes before this batch committed.
    for (const auto& entry : batch) {
      auto it = state_.nodes().find(entry.first);
      if (it != state_.nodes().end()) unsaved_.emplace(entry.first, it->second);
    }
  }
  return true;
}

void RolloutController::WriteLoop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &RolloutController::HasUnsaved));
      if (stopping_) return;
    }
    absl::Status status;
    WriteBatch(&status);
    if (!status.ok()) {
      LogError("storing rollout outcomes failed; retrying", {{"error", status.message()}});
      absl::MutexLock lock(&mu_);
      clock_->AwaitWithTimeout(&mu_, absl::Condition(&stopping_), kRetryWrite);
      if (stopping_) return;
    }
  }
}

absl::Status RolloutController::Flush() {
  absl::Status last;
  while (true) {
    absl::Status status;
    if (!WriteBatch(&status)) return last;
    // A failed batch is noted again: report the failure rather than spin on it.
    if (!status.ok()) return status;
    last = status;
  }
}

}  // namespace plumb
