#pragma once

// A Store that forwards to another and counts what the rollout controller writes through it
// (rows and serialized bytes), for bench/micro/rollout_bench.cc.

#include <atomic>

#include "server/rollout/rollout_controller.h"
#include "server/store/store.h"

namespace plumb {
namespace bench {

// Thread-safe as the store it wraps. `inner` is not owned and must outlive this.
class CountingRolloutStore : public Store {
 public:
  explicit CountingRolloutStore(Store* inner) : inner_(inner) {}
  int64_t rows() const { return rows_; }
  int64_t bytes() const { return bytes_; }

  using Store::GetRevision;
  using Store::GetRolloutState;
  using Store::ListRevisions;
  using Store::PutRolloutNodes;
  using Store::PutRolloutState;
  using Store::ServingRevision;
  using Store::SetServingRevision;
  absl::Status PutRolloutState(const std::string& e, const v1::RolloutState& state) override {
    rows_ += 1;
    bytes_ += static_cast<int64_t>(state.ByteSizeLong());
    return inner_->PutRolloutState(e, state);
  }
  absl::Status PutRolloutNodes(const std::string& e, uint64_t id,
                               const std::vector<RolloutNodeRow>& rows) override {
    rows_ += static_cast<int64_t>(rows.size());
    for (const RolloutNodeRow& row : rows) {
      bytes_ += static_cast<int64_t>(row.node.size() + row.result.ByteSizeLong() + sizeof(id));
    }
    return inner_->PutRolloutNodes(e, id, rows);
  }
  absl::StatusOr<v1::RolloutState> GetRolloutState(const std::string& e) override {
    return inner_->GetRolloutState(e);
  }

  absl::Status PutRevision(const v1::Revision& r) override { return inner_->PutRevision(r); }
  absl::StatusOr<v1::Revision> GetRevision(const std::string& e, const std::string& sha) override {
    return inner_->GetRevision(e, sha);
  }
  absl::StatusOr<std::vector<v1::Revision>> ListRevisions(const std::string& e,
                                                          int limit) override {
    return inner_->ListRevisions(e, limit);
  }
  absl::Status SetServingRevision(const std::string& e, const std::string& sha) override {
    return inner_->SetServingRevision(e, sha);
  }
  absl::StatusOr<std::string> ServingRevision(const std::string& e) override {
    return inner_->ServingRevision(e);
  }
  absl::Status PutNodes(const std::vector<v1::Node>& nodes) override {
    return inner_->PutNodes(nodes);
  }
  absl::StatusOr<v1::Node> GetNode(const std::string& name) override {
    return inner_->GetNode(name);
  }
  absl::StatusOr<std::vector<v1::Node>> ListNodes(const std::map<std::string, std::string>& sel,
                                                  v1::NodeStatus status) override {
    return inner_->ListNodes(sel, status);
  }
  absl::Status DeleteNode(const std::string& name) override { return inner_->DeleteNode(name); }
  absl::StatusOr<std::map<v1::NodeStatus, int64_t>> CountNodesByStatus() override {
    return inner_->CountNodesByStatus();
  }
  absl::StatusOr<std::vector<bool>> PutReports(
      const std::vector<const v1::Report*>& reports) override {
    return inner_->PutReports(reports);
  }
  absl::StatusOr<v1::Report> GetReport(const std::string& id) override {
    return inner_->GetReport(id);
  }
  absl::StatusOr<std::vector<v1::ReportSummary>> ListReports(const std::string& node,
                                                             int limit) override {
    return inner_->ListReports(node, limit);
  }
  absl::StatusOr<std::vector<v1::ResourceEvent>> ListResourceEvents(
      const v1::ListResourceEventsRequest& filter) override {
    return inner_->ListResourceEvents(filter);
  }
  absl::StatusOr<PruneResult> PruneReports(absl::Time cutoff, int keep, int batch) override {
    return inner_->PruneReports(cutoff, keep, batch);
  }
  absl::Status PutPin(const v1::Pin& pin) override { return inner_->PutPin(pin); }
  absl::Status DeletePin(const std::string& node) override { return inner_->DeletePin(node); }
  absl::StatusOr<std::vector<v1::Pin>> ListPins() override { return inner_->ListPins(); }
  absl::Status Ping() override { return inner_->Ping(); }

 private:
  Store* const inner_;
  std::atomic<int64_t> rows_{0};
  std::atomic<int64_t> bytes_{0};
};

// Waits until the controller's deferred node rows reached the store.
inline void FlushRollout(RolloutController& rollout) { rollout.Flush().IgnoreError(); }

}  // namespace bench
}  // namespace plumb
