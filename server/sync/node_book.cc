#include "server/sync/node_book.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace plumb {

void NodeBook::Update(const std::string& name, const std::function<void(v1::Node*)>& change,
                      bool unrevoke) {
  auto dirty = dirty_.find(name);
  if (dirty == dirty_.end()) {
    v1::Node node;
    auto existing = store_->GetNode(name);
    if (existing.ok()) {
      node = std::move(*existing);
    } else {
      node.set_name(name);
      node.set_status(v1::NODE_UNKNOWN);
    }
    dirty = dirty_.emplace(name, std::move(node)).first;
  }
  v1::Node& node = dirty->second;
  bool revoked = node.status() == v1::NODE_REVOKED;
  change(&node);
  if (revoked && !unrevoke) node.set_status(v1::NODE_REVOKED);
}

bool NodeBook::Known(const std::string& name) {
  return dirty_.count(name) > 0 || store_->GetNode(name).ok();
}

void NodeBook::Flush() {
  if (dirty_.empty()) return;
  std::vector<v1::Node> nodes;
  nodes.reserve(dirty_.size());
  for (auto& [name, node] : dirty_) {
    if (holds_ && holds_(name)) node.set_connected(true);
    nodes.push_back(std::move(node));
  }
  dirty_.clear();
  absl::Status s = store_->PutNodes(nodes);
  if (!s.ok()) {
    LogError("cannot store nodes", {{"nodes", nodes.size()}, {"first", nodes[0].name()},
                                    {"error", s.message()}});
  }
}

v1::NodeStatus NodeBook::StatusOfLastRun(const v1::Node& node) {
  if (node.last_report_id().empty()) return v1::NODE_UNKNOWN;
  auto last = store_->GetReport(node.last_report_id());
  return last.ok() ? StatusFromReport(*last, node.desired_revision()) : v1::NODE_UNKNOWN;
}

v1::NodeStatus StatusFromReport(const v1::Report& report, const std::string& desired_revision) {
  int changed = 0, would_change = 0;
  for (const v1::ResourceResult& r : report.results()) {
    if (r.outcome() == v1::FAILED) return v1::NODE_FAILED;
    if (r.outcome() == v1::CHANGED) ++changed;
    if (r.outcome() == v1::WOULD_CHANGE) ++would_change;
  }
  if (report.noop() && would_change > 0) return v1::NODE_DRIFTED;
  bool drift_run = report.trigger() == v1::INTERVAL || report.trigger() == v1::DRIFT;
  if (!report.noop() && drift_run && changed > 0) return v1::NODE_DRIFTED;
  if (!desired_revision.empty() && report.revision() != desired_revision) return v1::NODE_PENDING;
  return v1::NODE_CONVERGED;
}

std::string NodeCompileErrorText(const std::string& revision, absl::string_view errors) {
  return absl::StrCat("revision ", revision.substr(0, 12),
                      " does not compile for this node (it keeps its last good catalog): ",
                      errors);
}

}  // namespace plumb
