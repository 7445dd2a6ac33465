// StreamHub's operator actions on connected agents: run requests (plumbctl run), revocation
// and re-enrollment, and forgetting a node. Apart from stream_hub.cc so that the protocol
// stays readable.

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/wire_limits.h"
#include "server/sync/stream_hub.h"

namespace plumb {

void StreamHub::RequestRun(const std::map<std::string, std::string>& selector,
                           const std::vector<std::string>& nodes, bool noop,
                           const std::string& request_id,
                           std::function<void(std::vector<std::string>)> done) {
  Post([this, selector, nodes, noop, request_id, done = std::move(done)] {
    std::vector<std::string> asked;
    std::vector<std::pair<std::string, std::shared_ptr<AgentSession>>> sessions;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& entry : by_node_) sessions.push_back(entry);
    }
    for (const auto& [name, s] : sessions) {
      bool match = nodes.empty() || std::find(nodes.begin(), nodes.end(), name) != nodes.end();
      for (const auto& [k, v] : selector) {
        auto it = s->sync().inputs().labels.find(k);
        match = match && it != s->sync().inputs().labels.end() && it->second == v;
      }
      if (!match) continue;
      v1::ServerMessage msg;
      msg.mutable_run()->set_noop(noop);
      msg.mutable_run()->set_request_id(request_id);
      s->Send(std::move(msg));
      asked.push_back(name);
      Publish(MakeEvent(v1::EVENT_RUN_REQUESTED, name, "",
                        absl::StrCat(noop ? "noop run" : "run", " requested (", request_id, ")")));
    }
    done(std::move(asked));
  });
}

void StreamHub::SendNoop(const std::string& node, const std::string& request_id,
                         std::shared_ptr<const v1::Catalog> catalog) {
  Post([this, node, request_id, catalog = std::move(catalog)] {
    std::shared_ptr<AgentSession> session;
    {
      absl::MutexLock lock(&mu_);
      auto it = by_node_.find(node);
      if (it != by_node_.end()) session = it->second;
    }
    if (session == nullptr || session->closing()) {
      noops_.Fail(request_id, "not connected");
      return;
    }
    v1::ServerMessage msg;
    msg.mutable_noop()->set_request_id(request_id);
    *msg.mutable_noop()->mutable_catalog() = *catalog;
    if (size_t bytes = msg.ByteSizeLong(); bytes > wire::kMaxCatalogUpdateBytes) {
      noops_.Fail(request_id, absl::StrCat("the planned catalog is ", bytes,
                                           " bytes, over the wire limit of ",
                                           wire::kMaxCatalogUpdateBytes));
      return;
    }
    LogInfo("noop sample requested", {{"node", node}, {"request", request_id},
                                      {"resources", catalog->resources_size()}});
    session->Send(std::move(msg));
  });
}

void StreamHub::HandleNoopResult(const std::shared_ptr<AgentSession>& s,
                                 v1::NoopResult result) {
  std::string id = result.request_id();
  if (!noops_.Answer(s->sync().node(), std::move(result))) {
    // Late (the plan stopped waiting), or not asked of this node: dropped.
    LogInfo("noop result dropped: no such request outstanding",
            {{"node", s->sync().node()}, {"request", id}});
  }
}

void StreamHub::SetRevoked(const std::string& node, bool revoked) {
  Post([this, node, revoked] {
    if (revoked) {
      revoked_.insert(node);
    } else {
      revoked_.erase(node);
    }
    std::shared_ptr<AgentSession> session;
    if (revoked) {
      absl::MutexLock lock(&mu_);
      auto it = by_node_.find(node);
      if (it != by_node_.end()) session = it->second;
    }
    if (session != nullptr) {
      session->Close(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                  absl::StrCat("the certificate of node \"", node,
                                               "\" has been revoked")));
    }
    if (revoked) LogWarning("node revoked", {{"node", node}, {"connected", session != nullptr}});
    bool known = nodes_.Known(node);
    if (!revoked && !known) return;  // a first enrollment: the node appears when it connects
    nodes_.Update(node, [&](v1::Node* n) {
      if (revoked) {
        n->set_status(v1::NODE_REVOKED);
        n->set_connected(false);
        n->set_last_error("certificate revoked");
      } else if (n->status() == v1::NODE_REVOKED) {
        n->set_status(v1::NODE_UNKNOWN);
        n->clear_last_error();
      }
    }, /*unrevoke=*/!revoked);
  });
}

void StreamHub::ForgetNode(const std::string& node, std::function<void(absl::Status)> done) {
  Post([this, node, done = std::move(done)] {
    std::shared_ptr<AgentSession> session;
    {
      absl::MutexLock lock(&mu_);
      auto it = by_node_.find(node);
      if (it != by_node_.end()) {
        session = std::move(it->second);
        by_node_.erase(it);  // so its disconnect does not write the row back
      }
    }
    if (session != nullptr) {
      session->Close(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                                  absl::StrCat("node \"", node, "\" has been removed")));
    }
    nodes_.Flush();  // pending changes of this node first, then the delete wins
    absl::Status deleted = store_->DeleteNode(node);
    if (deleted.ok()) {
      LogWarning("node forgotten", {{"node", node}, {"connected", session != nullptr}});
      Publish(MakeEvent(v1::EVENT_NODE_DISCONNECTED, node, "", "node forgotten"));
    }
    done(deleted);
  });
}

}  // namespace plumb
