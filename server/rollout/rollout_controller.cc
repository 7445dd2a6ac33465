#include "server/rollout/rollout_controller.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"

namespace plumb {
namespace {

int64_t UnixMs(absl::Time t) { return absl::ToUnixMillis(t); }

std::string Short(const std::string& sha) { return sha.substr(0, 12); }

// How many failed nodes a halt reason lists by name.
constexpr size_t kMaxNamedFailures = 10;

}  // namespace

RolloutPolicy RolloutPolicyFromProto(const v1::RolloutPolicy& proto) {
  RolloutPolicy policy;
  for (const v1::RolloutWave& w : proto.waves()) {
    RolloutWave wave;
    wave.name = w.name();
    wave.bake = absl::Milliseconds(w.bake_ms());
    if (w.nodes_size() > 0) {
      wave.selector = RolloutWave::Selector::kNodes;
      wave.node_globs.assign(w.nodes().begin(), w.nodes().end());
    } else if (!w.labels().empty()) {
      wave.selector = RolloutWave::Selector::kLabels;
      wave.labels.insert(w.labels().begin(), w.labels().end());
    } else {
      wave.selector = RolloutWave::Selector::kPercent;
      wave.percent = w.percent();
    }
    policy.waves.push_back(std::move(wave));
  }
  policy.max_failed.is_percent = proto.max_failed_case() == v1::RolloutPolicy::kMaxFailedPercent;
  policy.max_failed.value =
      policy.max_failed.is_percent ? proto.max_failed_percent() : proto.max_failed_count();
  policy.health_exec = proto.health_exec();
  policy.health_timeout = absl::Milliseconds(proto.health_timeout_ms());
  policy.on_failure = proto.on_failure() == v1::RolloutPolicy::ON_FAILURE_ROLLBACK
                          ? RolloutPolicy::OnFailure::kRollback
                          : RolloutPolicy::OnFailure::kHalt;
  return policy;
}

void RolloutController::SetPolicy() { policy_ = RolloutPolicyFromProto(state_.policy()); }

size_t RolloutController::WaveCount() const {
  return static_cast<size_t>(state_.policy().waves_size()) +
         (state_.policy().implicit_final_wave() ? 1 : 0);
}

size_t RolloutController::WaveOf(const RolloutNode& node) const {
  return WaveIndexOf(policy_, node);
}

std::string RolloutController::WaveName(size_t wave) const {
  if (wave < static_cast<size_t>(state_.policy().waves_size())) {
    return state_.policy().waves(static_cast<int>(wave)).name();
  }
  return kImplicitWaveName;
}

bool RolloutController::Active() const {
  return !state_.target().empty() && !state_.previous().empty() &&
         state_.phase() != v1::ROLLOUT_PHASE_UNSPECIFIED &&
         state_.phase() != v1::ROLLOUT_COMPLETED;
}

std::string RolloutController::OnNewRevision(const std::string& sha,
                                             const std::string& serving_before,
                                             const v1::RolloutPolicy* policy) {
  absl::MutexLock lock(&mu_);
  // A rollout still running keeps its previous good revision: nodes it has not reached yet
  // are on that one, and the superseded target is never served to them.
  std::string stable = Active() ? state_.previous()
                                : (!state_.target().empty() ? state_.target() : serving_before);
  bool superseded = Active() && state_.target() != sha;
  v1::RolloutState next;
  next.set_target(sha);
  if (policy == nullptr || stable.empty() || stable == sha) {
    next.set_phase(v1::ROLLOUT_PHASE_UNSPECIFIED);
    Replace(std::move(next));
    SetPolicy();
    Changed();
    return "";
  }
  if (superseded) {
    Publish(v1::EVENT_ROLLOUT_CHANGED,
            absl::StrCat("rollout of ", Short(state_.target()), " superseded by ", Short(sha)));
  }
  next.set_previous(stable);
  *next.mutable_policy() = *policy;
  next.set_phase(v1::ROLLOUT_PROGRESSING);
  next.set_started_unix_ms(UnixMs(clock_->Now()));
  Replace(std::move(next));
  SetPolicy();
  StartWave(0);
  return stable;
}

RolloutDecision RolloutController::Decide(const RolloutNode& node) const {
  absl::MutexLock lock(&mu_);
  RolloutDecision d;
  if (auto pin = pins_.find(node.name); pin != pins_.end()) {
    d.revision = pin->second;
    return d;
  }
  if (!Active() && state_.phase() != v1::ROLLOUT_COMPLETED) return d;
  d.revision = state_.target();
  bool got = state_.nodes().contains(node.name);
  switch (state_.phase()) {
    case v1::ROLLOUT_PROGRESSING:
    case v1::ROLLOUT_PAUSED:
      // A node not served yet gets the target only while its own wave is the current one: a
      // later wave waits its turn, and a node whose wave passed without it (offline then, or
      // skipped by promote) waits until the rollout completes (issue 14).
      if (!got && WaveOf(node) != state_.wave()) d.revision = state_.previous();
      break;
    case v1::ROLLOUT_HALTED:
    case v1::ROLLOUT_ABORTED:
      if (!got) d.revision = state_.previous();
      break;
    case v1::ROLLOUT_ROLLED_BACK:
      d.revision = state_.previous();
      d.rollback = got;
      break;
    default:
      break;
  }
  if (d.revision == state_.target() && state_.rollback()) d.rollback = true;
  if (d.revision == state_.target() && !state_.policy().health_exec().empty()) {
    d.health.set_exec(state_.policy().health_exec());
    d.health.set_timeout_ms(state_.policy().health_timeout_ms());
  }
  return d;
}

void RolloutController::OnServed(const RolloutNode& node, const std::string& revision) {
  absl::MutexLock lock(&mu_);
  if (!Active() || revision != state_.target()) return;
  if (state_.phase() != v1::ROLLOUT_PROGRESSING && state_.phase() != v1::ROLLOUT_PAUSED) return;
  if (state_.nodes().contains(node.name)) return;
  v1::RolloutNodeResult& r = (*state_.mutable_nodes())[node.name];
  r.set_wave(static_cast<uint32_t>(WaveOf(node)));
  r.set_outcome(v1::ROLLOUT_NODE_SERVED);
  r.set_unix_ms(UnixMs(clock_->Now()));
  Record(node.name, r);
}

std::string RolloutRunFailure(const v1::Report& report) {
  for (const v1::ResourceResult& r : report.results()) {
    if (r.outcome() == v1::FAILED) return absl::StrCat(r.id(), ": ", r.message());
  }
  if (report.has_health() && report.health().exit_status() != 0) {
    std::string output = report.health().output().substr(0, 200);
    return report.health().timed_out()
               ? "health check timed out"
               : absl::StrCat("health check exited ", report.health().exit_status(),
                              output.empty() ? "" : ": ", output);
  }
  return "";
}

void RolloutController::OnReport(const RolloutNode& node, const v1::Report& report) {
  absl::MutexLock lock(&mu_);
  if (!Active() || report.noop() || report.revision() != state_.target()) return;
  if (state_.phase() == v1::ROLLOUT_ROLLED_BACK || state_.phase() == v1::ROLLOUT_ABORTED) return;
  auto* nodes = state_.mutable_nodes();
  v1::RolloutNodeResult& r = (*nodes)[node.name];
  if (r.outcome() == v1::ROLLOUT_NODE_FAILED) return;  // a failure sticks for this rollout
  r.set_wave(static_cast<uint32_t>(WaveOf(node)));
  r.set_unix_ms(UnixMs(clock_->Now()));
  std::string failure = RolloutRunFailure(report);
  if (failure.empty()) {
    if (r.outcome() == v1::ROLLOUT_NODE_SUCCEEDED) return;
    r.set_outcome(v1::ROLLOUT_NODE_SUCCEEDED);
  } else {
    r.set_outcome(v1::ROLLOUT_NODE_FAILED);
    r.set_error(failure);
    LogWarning("rollout: a node failed the target",
               {{"node", node.name}, {"rev", Short(state_.target())}, {"error", failure}});
  }
  Record(node.name, r);
}

bool RolloutController::Tick(const std::vector<RolloutNode>& online_here) {
  std::vector<RolloutNode> online = online_here;
  bool fresh = false;
  bool refreshed = Refresh(&online, &fresh);  // replicas: the stored rollout (rollout_replicas.cc)
  absl::MutexLock lock(&mu_);
  if (!Leads()) return refreshed;
  if (is_leader_ && !fresh) return refreshed;  // replicas: judged on every replica's rows only
  if (state_.phase() != v1::ROLLOUT_PROGRESSING || !Active()) return refreshed;
  if (CheckHalt(online)) return true;
  bool changed = refreshed;
  while (state_.phase() == v1::ROLLOUT_PROGRESSING && MaybeAdvance(online)) changed = true;
  return changed;
}

bool RolloutController::CheckHalt(const std::vector<RolloutNode>& online) {
  // A wave's size: its online nodes and the nodes that got the target (maybe offline now).
  std::vector<std::set<std::string>> members(WaveCount());
  for (const RolloutNode& n : online) {
    size_t w = WaveOf(n);
    if (w <= state_.wave() && pins_.count(n.name) == 0) members[w].insert(n.name);
  }
  std::vector<std::vector<std::string>> failed(WaveCount());
  for (const auto& [name, r] : state_.nodes()) {
    if (r.wave() >= members.size()) continue;
    members[r.wave()].insert(name);
    if (r.outcome() == v1::ROLLOUT_NODE_FAILED) failed[r.wave()].push_back(name);
  }
  for (size_t w = 0; w < members.size(); ++w) {
    uint32_t tolerated = MaxFailedFor(policy_.max_failed, members[w].size());
    if (failed[w].size() <= tolerated) continue;
    std::vector<std::string> named;
    for (const std::string& name : failed[w]) {
      if (named.size() == kMaxNamedFailures) break;
      named.push_back(absl::StrCat(name, " (", state_.nodes().at(name).error(), ")"));
    }
    bool rollback = state_.policy().on_failure() == v1::RolloutPolicy::ON_FAILURE_ROLLBACK;
    state_.set_phase(rollback ? v1::ROLLOUT_ROLLED_BACK : v1::ROLLOUT_HALTED);
    state_.set_halt_reason(absl::StrCat(failed[w].size(), " of ", members[w].size(),
                                        " nodes failed in wave ", WaveName(w), " (max_failed ",
                                        tolerated, "): ", absl::StrJoin(named, "; ")));
    state_.set_baking_since_unix_ms(0);
    LogWarning("rollout halted", {{"rev", Short(state_.target())},
                                  {"reason", state_.halt_reason()}});
    Publish(v1::EVENT_ROLLOUT_HALTED, state_.halt_reason());
    if (rollback) {
      Publish(v1::EVENT_ROLLOUT_ROLLBACK,
              absl::StrCat("nodes that got ", Short(state_.target()), " are served ",
                           Short(state_.previous()), " again"));
    }
    Changed();
    return true;
  }
  return false;
}

bool RolloutController::MaybeAdvance(const std::vector<RolloutNode>& online) {
  size_t w = state_.wave();
  for (const RolloutNode& n : online) {
    if (WaveOf(n) != w || pins_.count(n.name) > 0) continue;
    auto it = state_.nodes().find(n.name);
    if (it == state_.nodes().end() || it->second.outcome() == v1::ROLLOUT_NODE_SERVED) {
      return false;  // not reported yet
    }
  }
  // Every online node of the wave reported (and the failures are tolerated): the bake runs
  // from the last of those reports.
  bool any = false;
  int64_t last_report_ms = 0;
  for (const auto& [name, r] : state_.nodes()) {
    if (r.wave() != w) continue;
    any = true;
    last_report_ms = std::max(last_report_ms, r.unix_ms());
  }
  absl::Time now = clock_->Now();
  if (state_.baking_since_unix_ms() == 0) {
    state_.set_baking_since_unix_ms(any ? last_report_ms : UnixMs(now));
    Persist();
  }
  absl::Duration bake = absl::ZeroDuration();
  if (w < policy_.waves.size()) bake = policy_.waves[w].bake;
  // A wave no node of took the target has nothing to bake.
  if (any && now - absl::FromUnixMillis(state_.baking_since_unix_ms()) < bake) return false;
  if (w + 1 >= WaveCount()) {
    state_.set_phase(v1::ROLLOUT_COMPLETED);
    state_.set_baking_since_unix_ms(0);
    LogInfo("rollout completed", {{"rev", Short(state_.target())}});
    Publish(v1::EVENT_ROLLOUT_COMPLETED, absl::StrCat("every wave has ", Short(state_.target())));
    Changed();
    return true;
  }
  StartWave(w + 1);
  return true;
}

void RolloutController::StartWave(size_t wave) {
  state_.set_wave(static_cast<uint32_t>(wave));
  state_.set_wave_started_unix_ms(UnixMs(clock_->Now()));
  state_.set_baking_since_unix_ms(0);
  std::string message = absl::StrCat("wave ", wave + 1, "/", WaveCount(), " (", WaveName(wave),
                                     ") started");
  LogInfo("rollout wave started", {{"rev", Short(state_.target())}, {"wave", WaveName(wave)}});
  Publish(v1::EVENT_ROLLOUT_WAVE_STARTED, message);
  Changed();
}

void RolloutController::Changed() {
  ++epoch_;
  Persist();
}

void RolloutController::Publish(v1::EventKind kind, const std::string& message) {
  if (events_ != nullptr) events_->Publish(MakeEvent(kind, "", state_.target(), message));
}

void RolloutController::SetPins(std::map<std::string, std::string> pins) {
  absl::MutexLock lock(&mu_);
  pins_ = std::move(pins);
  ++epoch_;
}

std::set<std::string> RolloutController::pinned_revisions() const {
  absl::MutexLock lock(&mu_);
  std::set<std::string> out;
  for (const auto& [node, sha] : pins_) out.insert(sha);
  return out;
}

void RolloutController::RollBackTo(const std::string& to, const v1::RolloutPolicy* policy,
                                   bool now) {
  absl::MutexLock lock(&mu_);
  std::string from = state_.target();
  v1::RolloutState next;
  next.set_target(to);
  next.set_previous(from);
  next.set_started_unix_ms(UnixMs(clock_->Now()));
  if (policy == nullptr && state_.policy().waves_size() > 0) policy = &state_.policy();
  if (policy != nullptr) *next.mutable_policy() = *policy;
  bool at_once = now || policy == nullptr || from.empty() || from == to;
  next.set_phase(at_once ? v1::ROLLOUT_COMPLETED : v1::ROLLOUT_PROGRESSING);
  // Runs that move a node to `to` report trigger ROLLBACK, as the automatic rollback's do.
  next.set_rollback(true);
  Replace(std::move(next));
  SetPolicy();
  LogInfo("rollback requested", {{"to", Short(to)}, {"from", Short(from)}, {"now", at_once}});
  Publish(v1::EVENT_ROLLOUT_ROLLBACK,
          absl::StrCat("rollback to ", Short(to),
                       at_once ? ": every node at once" : " through the rollout policy"));
  if (at_once) {
    Changed();
    return;
  }
  StartWave(0);
}

std::string RolloutController::BaseRevision(const std::string& serving) const {
  absl::MutexLock lock(&mu_);
  if (Active()) return state_.previous();
  return !state_.target().empty() ? state_.target() : serving;
}

std::string RolloutController::previous_revision() const {
  absl::MutexLock lock(&mu_);
  return state_.previous();
}

std::set<std::string> RolloutController::live_revisions() const {
  absl::MutexLock lock(&mu_);
  std::set<std::string> out;
  for (const auto& [node, sha] : pins_) out.insert(sha);
  if (!state_.target().empty()) out.insert(state_.target());
  if (Active()) out.insert(state_.previous());
  return out;
}

bool RolloutController::active() const {
  absl::MutexLock lock(&mu_);
  return Active();
}

uint64_t RolloutController::epoch() const {
  absl::MutexLock lock(&mu_);
  return epoch_;
}

std::string RolloutController::stable_revision() const {
  absl::MutexLock lock(&mu_);
  return Active() ? state_.previous() : "";
}

}  // namespace plumb
