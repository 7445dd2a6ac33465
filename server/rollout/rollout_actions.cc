// RolloutController: status for operators and their actions (pause, resume, abort, promote).
// Split from rollout_controller.cc to keep each file small; same class, same lock.

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "server/rollout/rollout_controller.h"

namespace plumb {
namespace {

// How many failed nodes a status lists.
constexpr int kMaxStatusFailures = 100;

// FleetService forwards a follower's operator actions to the leader before they get here
// (server/fleet/rollout_forwarding.h); this guards the controller itself.
absl::Status NotLeader() {
  return absl::FailedPreconditionError("this replica does not lead the rollout");
}

}  // namespace

v1::RolloutStatus RolloutController::Status(const std::vector<v1::Node>& known) const {
  absl::MutexLock lock(&mu_);
  v1::RolloutStatus out;
  out.set_revision(state_.target());
  out.set_previous(state_.previous());
  out.set_phase(state_.phase());
  out.set_wave(state_.wave());
  out.set_halt_reason(state_.halt_reason());
  out.set_bake_left_ms(-1);
  if (state_.phase() == v1::ROLLOUT_PHASE_UNSPECIFIED) return out;
  for (size_t w = 0; w < WaveCount(); ++w) {
    v1::RolloutWaveStatus* ws = out.add_waves();
    ws->set_name(WaveName(w));
  }
  std::vector<int> sizes(WaveCount(), 0);
  for (const v1::Node& n : known) {
    if (n.status() == v1::NODE_REVOKED) continue;
    size_t w = WaveOf({n.name(), {n.labels().begin(), n.labels().end()}});
    v1::RolloutWaveStatus* ws = out.mutable_waves(static_cast<int>(w));
    ws->set_nodes(ws->nodes() + 1);
    auto it = state_.nodes().find(n.name());
    v1::RolloutOutcome outcome =
        it == state_.nodes().end() ? v1::ROLLOUT_OUTCOME_UNSPECIFIED : it->second.outcome();
    if (outcome == v1::ROLLOUT_NODE_SUCCEEDED || state_.phase() == v1::ROLLOUT_COMPLETED) {
      ws->set_done(ws->done() + 1);
    } else if (outcome == v1::ROLLOUT_NODE_FAILED) {
      ws->set_failed(ws->failed() + 1);
    } else if (!n.connected()) {
      ws->set_offline(ws->offline() + 1);
    } else {
      ws->set_pending(ws->pending() + 1);
    }
  }
  for (size_t w = 0; w < WaveCount(); ++w) {
    v1::RolloutWaveStatus* ws = out.mutable_waves(static_cast<int>(w));
    ws->set_max_failed(static_cast<int32_t>(MaxFailedFor(policy_.max_failed, ws->nodes())));
  }
  for (const auto& [name, r] : state_.nodes()) {
    if (r.outcome() != v1::ROLLOUT_NODE_FAILED || out.failures_size() >= kMaxStatusFailures) {
      continue;
    }
    v1::RolloutFailure* f = out.add_failures();
    f->set_node(name);
    f->set_error(r.error());
  }
  if (state_.phase() == v1::ROLLOUT_PAUSED && state_.paused_bake_left_ms() > 0) {
    out.set_bake_left_ms(state_.paused_bake_left_ms());
  } else if (state_.phase() == v1::ROLLOUT_PROGRESSING && state_.baking_since_unix_ms() > 0 &&
             state_.wave() < policy_.waves.size()) {
    absl::Duration left = policy_.waves[state_.wave()].bake -
                          (clock_->Now() - absl::FromUnixMillis(state_.baking_since_unix_ms()));
    out.set_bake_left_ms(std::max<int64_t>(0, absl::ToInt64Milliseconds(left)));
  }
  return out;
}

absl::Status RolloutController::Pause() {
  absl::MutexLock lock(&mu_);
  if (!Leads()) return NotLeader();
  if (state_.phase() != v1::ROLLOUT_PROGRESSING) {
    return absl::FailedPreconditionError(
        absl::StrCat("no rollout is progressing (", RolloutPhaseName(state_.phase()), ")"));
  }
  state_.set_phase(v1::ROLLOUT_PAUSED);
  state_.set_paused_bake_left_ms(0);
  if (state_.baking_since_unix_ms() > 0 && state_.wave() < policy_.waves.size()) {
    absl::Duration left = policy_.waves[state_.wave()].bake -
                          (clock_->Now() - absl::FromUnixMillis(state_.baking_since_unix_ms()));
    state_.set_paused_bake_left_ms(std::max<int64_t>(1, absl::ToInt64Milliseconds(left)));
  }
  Publish(v1::EVENT_ROLLOUT_CHANGED, "rollout paused");
  Changed();
  return absl::OkStatus();
}

absl::Status RolloutController::Resume() {
  absl::MutexLock lock(&mu_);
  if (!Leads()) return NotLeader();
  if (state_.phase() != v1::ROLLOUT_PAUSED) {
    return absl::FailedPreconditionError(
        absl::StrCat("the rollout is not paused (", RolloutPhaseName(state_.phase()), ")"));
  }
  state_.set_phase(v1::ROLLOUT_PROGRESSING);
  if (state_.paused_bake_left_ms() > 0 && state_.wave() < policy_.waves.size()) {
    // The bake goes on from where it was paused.
    absl::Duration done =
        policy_.waves[state_.wave()].bake - absl::Milliseconds(state_.paused_bake_left_ms());
    state_.set_baking_since_unix_ms(absl::ToUnixMillis(clock_->Now() - done));
  }
  state_.set_paused_bake_left_ms(0);
  Publish(v1::EVENT_ROLLOUT_CHANGED, "rollout resumed");
  Changed();
  return absl::OkStatus();
}

absl::Status RolloutController::Abort() {
  absl::MutexLock lock(&mu_);
  if (!Leads()) return NotLeader();
  if (!Active() || state_.phase() == v1::ROLLOUT_ABORTED ||
      state_.phase() == v1::ROLLOUT_ROLLED_BACK) {
    return absl::FailedPreconditionError(
        absl::StrCat("no rollout to abort (", RolloutPhaseName(state_.phase()), ")"));
  }
  state_.set_phase(v1::ROLLOUT_ABORTED);
  state_.set_baking_since_unix_ms(0);
  LogInfo("rollout aborted", {{"rev", state_.target().substr(0, 12)}});
  Publish(v1::EVENT_ROLLOUT_CHANGED, "rollout aborted: nodes not reached stay on the previous");
  Changed();
  return absl::OkStatus();
}

absl::Status RolloutController::Promote(int wave) {
  absl::MutexLock lock(&mu_);
  if (!Leads()) return NotLeader();
  if (state_.phase() != v1::ROLLOUT_PROGRESSING && state_.phase() != v1::ROLLOUT_PAUSED) {
    return absl::FailedPreconditionError(
        absl::StrCat("no rollout to promote (", RolloutPhaseName(state_.phase()), ")"));
  }
  size_t next = wave <= 0 ? state_.wave() + 1 : static_cast<size_t>(wave - 1);
  if (next <= state_.wave() || next > WaveCount()) {
    return absl::InvalidArgumentError(absl::StrCat("wave ", wave, " is not after the current ",
                                                   state_.wave() + 1, " (of ", WaveCount(),
                                                   ")"));
  }
  state_.set_phase(v1::ROLLOUT_PROGRESSING);
  state_.set_paused_bake_left_ms(0);
  Publish(v1::EVENT_ROLLOUT_CHANGED, absl::StrCat("rollout promoted to wave ", next + 1));
  if (next == WaveCount()) {
    state_.set_phase(v1::ROLLOUT_COMPLETED);
    Publish(v1::EVENT_ROLLOUT_COMPLETED, "promoted past the last wave");
    Changed();
    return absl::OkStatus();
  }
  StartWave(next);
  return absl::OkStatus();
}

}  // namespace plumb
