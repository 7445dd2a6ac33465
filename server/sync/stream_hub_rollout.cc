// StreamHub: rollouts (docs/rollouts.md). Which revision each node is offered is decided by
// the RolloutController in OfferCatalog; here the hub ticks the controller on its worker and
// re-offers catalogs when a decision changed. Split from stream_hub.cc to keep it small.

#include "server/sync/stream_hub.h"

#include "common/logging.h"

namespace plumb {

void StreamHub::EnableRollouts(RolloutController* rollout, LiveRevisions* live) {
  lines_[0].rollout = rollout;
  lines_[0].live = live;
  ScheduleRolloutTick();
}

void StreamHub::SetLines(std::vector<ServingLine> lines, LineMatcher match) {
  lines_ = std::move(lines);
  match_ = std::move(match);
  ScheduleRolloutTick();
}

const ServingLine* StreamHub::LineOf(const SyncState& s) const {
  if (s.line() < 0 || s.line() >= static_cast<int>(lines_.size())) return nullptr;
  return &lines_[s.line()];
}

void StreamHub::NoEnvironment(const std::shared_ptr<AgentSession>& s) {
  const std::string error =
      "no entry of the server's environments matches the node's labels: it is sent no catalog";
  if (s->sync().compile_error() == error) return;
  LogWarning("no environment for node", {{"node", s->sync().node()}});
  s->sync().set_compile_error(error);
  nodes_.Update(s->sync().node(), [&](v1::Node* n) { n->set_last_error(error); });
}

void StreamHub::ScheduleRolloutTick() {
  PostAfter(kRolloutTick, [this] {
    TickRollout();
    ScheduleRolloutTick();
  });
}

std::vector<RolloutNode> StreamHub::OnlineNodes(int line) const {
  std::vector<RolloutNode> online;
  absl::MutexLock lock(&mu_);
  for (const auto& [name, s] : by_node_) {
    if (s->sync().line() == line) online.push_back({name, s->sync().inputs().labels});
  }
  return online;
}

void StreamHub::TickRollout() {
  bool changed = false;
  for (size_t i = 0; i < lines_.size(); ++i) {
    // Without a rollout under way Tick is a no-op: the list of every connected node (a copy
    // of each one's labels, after every batch of reports) is not made for nothing.
    if (lines_[i].rollout == nullptr || !lines_[i].rollout->active()) continue;
    changed |= lines_[i].rollout->Tick(OnlineNodes(static_cast<int>(i)));
  }
  if (changed) {
    std::vector<std::shared_ptr<AgentSession>> sessions;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [name, s] : by_node_) sessions.push_back(s);
    }
    for (const auto& s : sessions) OfferCatalog(s);
  }
}

uint64_t StreamHub::ServingGeneration() {
  // Each line's generations only grow, so their sums change whenever any of them does.
  uint64_t builder = 0, epoch = 0;
  for (const ServingLine& line : lines_) {
    builder += line.live != nullptr ? line.live->generation() : line.builder->generation();
    epoch += line.rollout != nullptr ? line.rollout->epoch() : 0;
  }
  if (builder != seen_builder_generation_ || epoch != seen_rollout_epoch_) {
    seen_builder_generation_ = builder;
    seen_rollout_epoch_ = epoch;
    ++serving_generation_;
  }
  return serving_generation_;
}

}  // namespace plumb
