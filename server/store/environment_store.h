#pragma once

// The Store as one named environment's rollout controller sees it: its rollout rows are the
// environment's own (the Store's rollout calls with the environment); everything else is the
// shared store. So each revision line's RolloutController keeps and restores its own rollout
// without knowing about environments (server/git/revision_lines.h builds one per line).

#include <string>
#include <vector>

#include "server/store/forwarding_store.h"

namespace plumb {

// Thread-safe (forwards to a thread-safe Store).
class EnvironmentStore : public ForwardingStore {
 public:
  // `base` is not owned and must outlive this; `environment` is a named line (not "").
  EnvironmentStore(Store* base, std::string environment)
      : ForwardingStore(base), environment_(std::move(environment)) {}

  // The environment's own rollout rows: the controller asks for the single line's (""), and
  // gets this environment's.
  using Store::GetRolloutState;
  using Store::PutRolloutNodes;
  using Store::PutRolloutState;
  absl::Status PutRolloutState(const std::string& e, const v1::RolloutState& state) override {
    return inner()->PutRolloutState(Line(e), state);
  }
  absl::Status PutRolloutNodes(const std::string& e, uint64_t id,
                               const std::vector<RolloutNodeRow>& rows) override {
    return inner()->PutRolloutNodes(Line(e), id, rows);
  }
  absl::StatusOr<v1::RolloutState> GetRolloutState(const std::string& e) override {
    return inner()->GetRolloutState(Line(e));
  }

 private:
  const std::string& Line(const std::string& e) const { return e.empty() ? environment_ : e; }

  const std::string environment_;
};

}  // namespace plumb
