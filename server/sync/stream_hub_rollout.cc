// StreamHub: rollouts (docs/rollouts.md). Which revision each node is offered is decided by
// the RolloutController in OfferCatalog; here the hub ticks the controller on its worker and
// re-offers catalogs when a decision changed. Split from stream_hub.cc to keep it small.

#include "server/sync/stream_hub.h"

namespace plumb {

void StreamHub::EnableRollouts(RolloutController* rollout, LiveRevisions* live) {
  rollout_ = rollout;
  live_ = live;
  ScheduleRolloutTick();
}

void StreamHub::ScheduleRolloutTick() {
  PostAfter(kRolloutTick, [this] {
    TickRollout();
    ScheduleRolloutTick();
  });
}

std::vector<RolloutNode> StreamHub::OnlineNodes() const {
  std::vector<RolloutNode> online;
  absl::MutexLock lock(&mu_);
  for (const auto& [name, s] : by_node_) online.push_back({name, s->sync().inputs().labels});
  return online;
}

void StreamHub::TickRollout() {
  if (rollout_ == nullptr) return;
  if (rollout_->Tick(OnlineNodes())) {
    std::vector<std::shared_ptr<AgentSession>> sessions;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [name, s] : by_node_) sessions.push_back(s);
    }
    for (const auto& s : sessions) OfferCatalog(s);
  }
}

uint64_t StreamHub::ServingGeneration() {
  uint64_t builder = live_ != nullptr ? live_->generation() : builder_->generation();
  uint64_t epoch = rollout_ != nullptr ? rollout_->epoch() : 0;
  if (builder != seen_builder_generation_ || epoch != seen_rollout_epoch_) {
    seen_builder_generation_ = builder;
    seen_rollout_epoch_ = epoch;
    ++serving_generation_;
  }
  return serving_generation_;
}

}  // namespace plumb
