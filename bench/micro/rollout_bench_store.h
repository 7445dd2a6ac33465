#pragma once

// A Store that forwards to another and counts what the rollout controller writes through it
// (rows and serialized bytes), for bench/micro/rollout_bench.cc.

#include <atomic>

#include "server/rollout/rollout_controller.h"
#include "server/store/forwarding_store.h"

namespace plumb {
namespace bench {

// Thread-safe as the store it wraps. `inner` is not owned and must outlive this.
class CountingRolloutStore : public ForwardingStore {
 public:
  explicit CountingRolloutStore(Store* inner) : ForwardingStore(inner) {}
  int64_t rows() const { return rows_; }
  int64_t bytes() const { return bytes_; }

  using Store::PutRolloutNodes;
  using Store::PutRolloutState;
  absl::Status PutRolloutState(const std::string& e, const v1::RolloutState& state) override {
    rows_ += 1;
    bytes_ += static_cast<int64_t>(state.ByteSizeLong());
    return inner()->PutRolloutState(e, state);
  }
  absl::Status PutRolloutNodes(const std::string& e, uint64_t id,
                               const std::vector<RolloutNodeRow>& rows) override {
    rows_ += static_cast<int64_t>(rows.size());
    for (const RolloutNodeRow& row : rows) {
      bytes_ += static_cast<int64_t>(row.node.size() + row.result.ByteSizeLong() + sizeof(id));
    }
    return inner()->PutRolloutNodes(e, id, rows);
  }

 private:
  std::atomic<int64_t> rows_{0};
  std::atomic<int64_t> bytes_{0};
};

// Waits until the controller's deferred node rows reached the store.
inline void FlushRollout(RolloutController& rollout) { rollout.Flush().IgnoreError(); }

}  // namespace bench
}  // namespace plumb
