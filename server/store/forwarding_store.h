#pragma once

// A Store that passes every call to another one. Wrappers that change a few calls (a revision
// line's view of the rollout rows, test and benchmark stores that count or fail some calls)
// derive from it and override only those, so a new Store method is forwarded in one place.

#include <map>
#include <string>
#include <vector>

#include "server/store/store.h"

namespace plumb {

// Thread-safe as the store it wraps. `inner` is not owned and must outlive this.
class ForwardingStore : public Store {
 public:
  explicit ForwardingStore(Store* inner) : inner_(inner) {}

  using Store::GetRevision;
  using Store::GetRolloutState;
  using Store::ListRevisions;
  using Store::PutRolloutNodes;
  using Store::PutRolloutState;
  using Store::ServingRevision;
  using Store::SetServingRevision;

  absl::Status PutRevision(const v1::Revision& r) override { return inner_->PutRevision(r); }
  absl::StatusOr<v1::Revision> GetRevision(const std::string& e, const std::string& s) override {
    return inner_->GetRevision(e, s);
  }
  absl::StatusOr<std::vector<v1::Revision>> ListRevisions(const std::string& e,
                                                          int limit) override {
    return inner_->ListRevisions(e, limit);
  }
  absl::Status SetServingRevision(const std::string& e, const std::string& s) override {
    return inner_->SetServingRevision(e, s);
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
  absl::StatusOr<NodePage> ListNodesPage(const NodePageQuery& query) override {
    return inner_->ListNodesPage(query);
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
  absl::StatusOr<PruneResult> PruneReports(absl::Time cutoff, int keep_per_node,
                                           int batch = 1000) override {
    return inner_->PruneReports(cutoff, keep_per_node, batch);
  }
  absl::Status PutRolloutState(const std::string& e, const v1::RolloutState& state) override {
    return inner_->PutRolloutState(e, state);
  }
  absl::Status PutRolloutNodes(const std::string& e, uint64_t rollout_id,
                               const std::vector<RolloutNodeRow>& rows) override {
    return inner_->PutRolloutNodes(e, rollout_id, rows);
  }
  absl::StatusOr<v1::RolloutState> GetRolloutState(const std::string& e) override {
    return inner_->GetRolloutState(e);
  }
  absl::Status PutPin(const v1::Pin& pin) override { return inner_->PutPin(pin); }
  absl::Status DeletePin(const std::string& node) override { return inner_->DeletePin(node); }
  absl::StatusOr<std::vector<v1::Pin>> ListPins() override { return inner_->ListPins(); }
  absl::Status Ping() override { return inner_->Ping(); }

 protected:
  Store* inner() const { return inner_; }

 private:
  Store* const inner_;
};

}  // namespace plumb
