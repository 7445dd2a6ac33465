#pragma once

// The Store as one named environment's rollout controller sees it: its rollout rows are the
// environment's own (the Store's rollout calls with the environment); everything else is the
// shared store. So each revision line's RolloutController keeps and restores its own rollout
// without knowing about environments (server/git/revision_lines.h builds one per line).

#include <string>

#include "server/store/store.h"

namespace plumb {

// Thread-safe (forwards to a thread-safe Store).
class EnvironmentStore : public Store {
 public:
  // `base` is not owned and must outlive this; `environment` is a named line (not "").
  EnvironmentStore(Store* base, std::string environment)
      : base_(base), environment_(std::move(environment)) {}

  using Store::GetRevision;
  using Store::ListRevisions;
  using Store::ServingRevision;
  using Store::SetServingRevision;
  absl::Status PutRevision(const v1::Revision& r) override { return base_->PutRevision(r); }
  absl::StatusOr<v1::Revision> GetRevision(const std::string& e, const std::string& s) override {
    return base_->GetRevision(e, s);
  }
  absl::StatusOr<std::vector<v1::Revision>> ListRevisions(const std::string& e,
                                                          int limit) override {
    return base_->ListRevisions(e, limit);
  }
  absl::Status SetServingRevision(const std::string& e, const std::string& s) override {
    return base_->SetServingRevision(e, s);
  }
  absl::StatusOr<std::string> ServingRevision(const std::string& e) override {
    return base_->ServingRevision(e);
  }
  absl::Status PutNodes(const std::vector<v1::Node>& nodes) override {
    return base_->PutNodes(nodes);
  }
  absl::StatusOr<v1::Node> GetNode(const std::string& name) override {
    return base_->GetNode(name);
  }
  absl::StatusOr<std::vector<v1::Node>> ListNodes(const std::map<std::string, std::string>& sel,
                                                  v1::NodeStatus status) override {
    return base_->ListNodes(sel, status);
  }
  absl::StatusOr<NodePage> ListNodesPage(const NodePageQuery& query) override {
    return base_->ListNodesPage(query);
  }
  absl::Status DeleteNode(const std::string& name) override { return base_->DeleteNode(name); }
  absl::StatusOr<std::map<v1::NodeStatus, int64_t>> CountNodesByStatus() override {
    return base_->CountNodesByStatus();
  }
  absl::StatusOr<std::vector<bool>> PutReports(
      const std::vector<const v1::Report*>& reports) override {
    return base_->PutReports(reports);
  }
  absl::StatusOr<v1::Report> GetReport(const std::string& id) override {
    return base_->GetReport(id);
  }
  absl::StatusOr<std::vector<v1::ReportSummary>> ListReports(const std::string& node,
                                                             int limit) override {
    return base_->ListReports(node, limit);
  }
  absl::StatusOr<std::vector<v1::ResourceEvent>> ListResourceEvents(
      const v1::ListResourceEventsRequest& filter) override {
    return base_->ListResourceEvents(filter);
  }
  absl::StatusOr<PruneResult> PruneReports(absl::Time cutoff, int keep_per_node,
                                           int batch = 1000) override {
    return base_->PruneReports(cutoff, keep_per_node, batch);
  }
  // The environment's own rollout rows: the controller asks for the single line's (""), and
  // gets this environment's.
  using Store::GetRolloutState;
  using Store::PutRolloutNodes;
  using Store::PutRolloutState;
  absl::Status PutRolloutState(const std::string& e, const v1::RolloutState& state) override {
    return base_->PutRolloutState(Line(e), state);
  }
  absl::Status PutRolloutNodes(const std::string& e, uint64_t id,
                               const std::vector<RolloutNodeRow>& rows) override {
    return base_->PutRolloutNodes(Line(e), id, rows);
  }
  absl::StatusOr<v1::RolloutState> GetRolloutState(const std::string& e) override {
    return base_->GetRolloutState(Line(e));
  }
  absl::Status PutPin(const v1::Pin& pin) override { return base_->PutPin(pin); }
  absl::Status DeletePin(const std::string& node) override { return base_->DeletePin(node); }
  absl::StatusOr<std::vector<v1::Pin>> ListPins() override { return base_->ListPins(); }
  absl::Status Ping() override { return base_->Ping(); }

 private:
  const std::string& Line(const std::string& e) const { return e.empty() ? environment_ : e; }

  Store* const base_;
  const std::string environment_;
};

}  // namespace plumb
