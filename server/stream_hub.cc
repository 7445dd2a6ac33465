#include "server/stream_hub.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/catalog.h"
#include "common/logging.h"
#include "common/wire_limits.h"
#include "server/sensitive_scrub.h"

namespace plumb {
namespace {

std::string Short(const std::string& sha) { return sha.substr(0, 12); }

int64_t UnixMs(absl::Time t) { return absl::ToUnixMillis(t); }

std::string TriggerLabel(v1::RunTrigger trigger) {
  switch (trigger) {
    case v1::CATALOG: return "catalog";
    case v1::INTERVAL: return "interval";
    case v1::DRIFT: return "drift";
    case v1::REQUEST: return "request";
    default: return "unknown";
  }
}

}  // namespace

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

StreamHub::StreamHub(Store* store, CatalogBuilder* builder, RunTracker* runs, Clock* clock,
                     EventBus* events, ServerMetrics* metrics)
    : store_(store), builder_(builder), runs_(runs), clock_(clock), events_(events),
      metrics_(metrics) {}

StreamHub::~StreamHub() { queue_.Drain(); }

int StreamHub::connected() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(by_node_.size());
}

int64_t StreamHub::resources_sent() const {
  absl::MutexLock lock(&mu_);
  return resources_sent_;
}

void StreamHub::OnMessage(std::shared_ptr<AgentSession> session, v1::AgentMessage msg) {
  Post([this, s = std::move(session), m = std::move(msg)]() mutable {
    // A stream already being closed (error, revocation, replaced) gets nothing more done: in
    // particular a queued Hello must not replace, and close, the node's live stream.
    if (s->closing()) return;
    if (!s->hello_seen && m.kind_case() != v1::AgentMessage::kHello) {
      s->Close(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "the first message must be Hello"));
      return;
    }
    switch (m.kind_case()) {
      case v1::AgentMessage::kHello: HandleHello(s, m.hello()); break;
      case v1::AgentMessage::kAck: HandleAck(s, m.ack()); break;
      case v1::AgentMessage::kReport: HandleReport(s, std::move(*m.mutable_report())); break;
      case v1::AgentMessage::kHeartbeat: {
        v1::ServerMessage reply;
        reply.mutable_heartbeat()->set_unix_ms(UnixMs(clock_->Now()));
        s->Send(std::move(reply));
        break;
      }
      default:
        s->Close(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "empty AgentMessage"));
    }
  });
}

void StreamHub::OnDisconnect(std::shared_ptr<AgentSession> session) {
  Post([this, s = std::move(session)] {
    if (!s->hello_seen) return;
    const std::string& name = s->inputs.name;
    {
      absl::MutexLock lock(&mu_);
      auto it = by_node_.find(name);
      if (it == by_node_.end() || it->second != s) return;  // replaced by a newer stream
      by_node_.erase(it);
    }
    LogInfo("agent disconnected", {{"node", name}});
    Publish(MakeEvent(v1::EVENT_NODE_DISCONNECTED, name));
    UpdateNode(name, [&](v1::Node* n) {
      n->set_connected(false);
      if (!s->run_once) n->set_status(v1::NODE_OFFLINE);
      n->set_last_seen_unix_ms(UnixMs(clock_->Now()));
    });
  });
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
    bool known = dirty_nodes_.count(node) > 0 || store_->GetNode(node).ok();
    if (!revoked && !known) return;  // a first enrollment: the node appears when it connects
    UpdateNode(node, [&](v1::Node* n) {
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

bool StreamHub::MayFetchBlob(const std::string& node, const std::string& digest) const {
  std::shared_ptr<AgentSession> session;
  {
    absl::MutexLock lock(&mu_);
    auto it = by_node_.find(node);
    if (it == by_node_.end()) return false;
    session = it->second;
  }
  return session->MayFetch(digest);
}

void StreamHub::OnNewRevision() {
  Post([this] {
    std::vector<std::shared_ptr<AgentSession>> sessions;
    {
      absl::MutexLock lock(&mu_);
      for (const auto& [name, s] : by_node_) sessions.push_back(s);
    }
    for (const auto& s : sessions) OfferCatalog(s);
  });
}

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
        auto it = s->inputs.labels.find(k);
        match = match && it != s->inputs.labels.end() && it->second == v;
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

void StreamHub::HandleHello(const std::shared_ptr<AgentSession>& s, const v1::Hello& hello) {
  if (hello.node().empty()) {
    s->Close(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "Hello.node is empty"));
    return;
  }
  if (!s->verified_node.empty() && hello.node() != s->verified_node) {
    LogWarning("Hello names another node than the certificate",
               {{"certificate", s->verified_node}, {"hello", hello.node()}, {"peer", s->peer()}});
    s->Close(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          absl::StrCat("this certificate is node \"", s->verified_node,
                                       "\"; it may not speak for \"", hello.node(), "\"")));
    return;
  }
  if (s->hello_seen) {
    s->Close(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "Hello sent twice"));
    return;
  }
  if (revoked_.count(hello.node()) > 0) {
    // A stream authorized just before the revocation, whose Hello comes after it: it must not
    // get what closing the node's stream just denied it (CallAuthorizer refuses new ones).
    s->Close(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          absl::StrCat("the certificate of node \"", hello.node(),
                                       "\" has been revoked")));
    return;
  }
  s->hello_seen = true;
  s->run_once = hello.run_once();
  s->inputs.name = hello.node();
  s->inputs.labels = {hello.labels().begin(), hello.labels().end()};
  for (const auto& [k, v] : s->bound_labels) s->inputs.labels[k] = v;
  s->inputs.facts = {hello.facts().begin(), hello.facts().end()};
  s->held = {hello.resource_versions().begin(), hello.resource_versions().end()};
  s->held_digest = hello.catalog_digest();
  s->reply_pending = true;
  std::shared_ptr<AgentSession> replaced;
  {
    absl::MutexLock lock(&mu_);
    auto& slot = by_node_[hello.node()];
    replaced = slot;
    slot = s;
  }
  if (replaced != nullptr) {
    replaced->Close(grpc::Status(grpc::StatusCode::ABORTED, "replaced by a newer stream"));
  }
  LogInfo("agent connected", {{"node", hello.node()}, {"peer", s->peer()},
                              {"applied_rev", Short(hello.applied_revision())},
                              {"held", hello.resource_versions_size()}});
  Publish(MakeEvent(v1::EVENT_NODE_CONNECTED, hello.node(), hello.applied_revision(),
                    absl::StrCat("agent ", hello.agent_version(), " from ", s->peer())));
  UpdateNode(hello.node(), [&](v1::Node* n) {
    n->set_name(hello.node());
    n->mutable_labels()->clear();
    n->mutable_labels()->insert(s->inputs.labels.begin(), s->inputs.labels.end());
    *n->mutable_facts() = hello.facts();
    n->set_agent_version(hello.agent_version());
    if (!hello.applied_revision().empty()) n->set_applied_revision(hello.applied_revision());
    n->set_connected(true);
    n->set_last_seen_unix_ms(UnixMs(clock_->Now()));
    if (n->status() == v1::NODE_OFFLINE || n->status() == v1::NODE_STATUS_UNSPECIFIED) {
      // Back online: the last run's outcome is the node's status until the next run.
      auto last = n->last_report_id().empty() ? absl::StatusOr<v1::Report>(absl::NotFoundError(""))
                                              : store_->GetReport(n->last_report_id());
      n->set_status(last.ok() ? StatusFromReport(*last, n->desired_revision()) : v1::NODE_UNKNOWN);
    }
  });
  OfferCatalog(s);
}

void StreamHub::OfferCatalog(const std::shared_ptr<AgentSession>& s) {
  if (s->inflight != nullptr) return;  // the Ack will bring us back here: latest wins
  uint64_t generation = builder_->generation();
  s->offered_generation = generation;
  auto catalog = builder_->Build(s->inputs);
  if (!catalog.ok()) {
    LogWarning("no catalog for node", {{"node", s->inputs.name}, {"error", catalog.status().message()}});
    UpdateNode(s->inputs.name, [&](v1::Node* n) {
      n->set_last_error(std::string(catalog.status().message()));
      if (!absl::IsFailedPrecondition(catalog.status())) n->set_status(v1::NODE_FAILED);
    });
    return;
  }
  const v1::Catalog& c = **catalog;
  bool unchanged = c.digest() == s->held_digest || c.digest() == s->nacked_digest;
  if (unchanged && !s->reply_pending) return;
  s->reply_pending = false;
  std::set<std::string> digests;
  for (const v1::Resource& r : c.resources()) {
    if (!r.content_digest().empty()) digests.insert(r.content_digest());
  }
  s->AllowBlobs(std::move(digests));
  v1::ServerMessage msg;
  v1::CatalogUpdate* update = msg.mutable_update();
  *update = DeltaFor(*s, c, generation);
  if (size_t bytes = update->ByteSizeLong(); bytes > wire::kMaxCatalogUpdateBytes) {
    // The agent could not receive it: fail the node with a reason instead.
    std::string error = absl::StrCat("catalog update of ", bytes, " bytes exceeds the limit of ",
                                     wire::kMaxCatalogUpdateBytes, " (docs/protocol.md)");
    LogError("catalog too large for the wire", {{"node", s->inputs.name}, {"error", error}});
    UpdateNode(s->inputs.name, [&](v1::Node* n) {
      n->set_status(v1::NODE_FAILED);
      n->set_last_error(error);
    });
    return;
  }
  update->set_nonce(absl::StrCat(s->next_nonce++));
  s->inflight_nonce = update->nonce();
  s->inflight = *catalog;
  s->resources_sent += update->upserted_size();
  {
    absl::MutexLock lock(&mu_);
    resources_sent_ += update->upserted_size();
  }
  if (metrics_ != nullptr) metrics_->catalog_updates_sent->Increment();
  LogInfo("catalog update sent", {{"node", s->inputs.name}, {"rev", Short(c.revision())},
                                  {"upserted", update->upserted_size()},
                                  {"removed", update->removed_size()}, {"full", update->full()}});
  s->Send(std::move(msg));
  UpdateNode(s->inputs.name, [&](v1::Node* n) {
    n->set_desired_revision(c.revision());
    if (n->applied_revision() != c.revision() && n->status() != v1::NODE_FAILED) {
      n->set_status(v1::NODE_PENDING);
    }
  });
}

v1::CatalogUpdate StreamHub::DeltaFor(const AgentSession& s, const v1::Catalog& catalog,
                                      uint64_t generation) {
  if (!s.held_trusted) return ComputeDelta(s.held, catalog);
  if (generation != delta_generation_) {
    delta_cache_.clear();
    delta_generation_ = generation;
  }
  std::string key = absl::StrCat(catalog.digest(), "/", s.held_digest);
  auto it = delta_cache_.find(key);
  if (it != delta_cache_.end()) return it->second;
  v1::CatalogUpdate delta = ComputeDelta(s.held, catalog);
  if (delta_cache_.size() >= kMaxCachedDeltas) delta_cache_.clear();
  delta_cache_.emplace(std::move(key), delta);
  return delta;
}

void StreamHub::HandleAck(const std::shared_ptr<AgentSession>& s, const v1::Ack& ack) {
  if (s->inflight == nullptr || ack.nonce() != s->inflight_nonce) return;  // stale
  std::shared_ptr<const v1::Catalog> sent = std::move(s->inflight);
  s->inflight = nullptr;
  if (!ack.error().empty()) {
    s->nacked_digest = sent->digest();
    LogWarning("catalog rejected by agent", {{"node", s->inputs.name}, {"error", ack.error()}});
    UpdateNode(s->inputs.name, [&](v1::Node* n) {
      n->set_status(v1::NODE_FAILED);
      n->set_last_error(absl::StrCat("catalog rejected: ", ack.error()));
    });
  } else {
    s->held.clear();
    for (const v1::Resource& r : sent->resources()) s->held[r.id()] = r.version();
    s->held_digest = sent->digest();
    s->held_trusted = true;
    // Nothing newer is served than what was just acknowledged: no need to build it again.
    if (!s->reply_pending && builder_->generation() == s->offered_generation) return;
  }
  OfferCatalog(s);
}

void StreamHub::HandleReport(const std::shared_ptr<AgentSession>& s, v1::Report report) {
  report.set_node(s->inputs.name);  // the stream's node, never what the message claims
  if (report.id().empty()) {
    s->Close(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "Report.id is empty"));
    return;
  }
  // The agent should never send a sensitive resource's diff; if it does, it goes no further.
  // Without the node's catalog nobody can tell which resources are sensitive: keep no diff.
  auto catalog = builder_->Build(s->inputs);
  int dropped = 0;
  if (catalog.ok()) {
    dropped = ScrubSensitiveResults(**catalog, &report);
  } else {
    for (v1::ResourceResult& r : *report.mutable_results()) {
      if (!r.diff().empty()) {
        r.clear_diff();
        ++dropped;
      }
    }
  }
  if (dropped > 0) {
    LogWarning("dropped diffs from a report", {{"node", s->inputs.name}, {"diffs", dropped},
                                               {"why", catalog.ok() ? "sensitive resources"
                                                                    : "no catalog to check"}});
  }
  if (report.duration_us() < 0) report.set_duration_us(0);
  // The agent's clock is not the fleet's: a report from the future is stored as of now.
  int64_t now_ms = UnixMs(clock_->Now());
  report.set_started_unix_ms(std::clamp<int64_t>(report.started_unix_ms(), 0, now_ms));
  auto stored = store_->PutReport(report);
  if (!stored.ok()) {
    // Not acknowledged: the agent keeps it queued and re-sends after reconnecting.
    LogError("cannot store report", {{"node", s->inputs.name}, {"report", report.id()},
                                     {"error", stored.status().message()}});
    return;
  }
  if (*stored) {
    UpdateNode(s->inputs.name, [&](v1::Node* n) {
      if (!report.noop()) n->set_applied_revision(report.revision());
      n->set_status(StatusFromReport(report, n->desired_revision()));
      n->set_last_report_id(report.id());
      n->set_last_seen_unix_ms(UnixMs(clock_->Now()));
      if (n->status() != v1::NODE_FAILED) n->clear_last_error();
    });
    LogInfo("report stored", {{"node", s->inputs.name}, {"report", report.id()},
                              {"rev", Short(report.revision())}});
    ObserveReport(report);
  }
  if (!report.request_id().empty()) runs_->Deliver(report.request_id(), Store::Summarize(report));
  v1::ServerMessage ack;
  ack.mutable_report_ack()->set_report_id(report.id());
  s->Send(std::move(ack));
}

void StreamHub::Publish(v1::Event event) {
  if (events_ != nullptr) events_->Publish(std::move(event));
}

void StreamHub::ObserveReport(const v1::Report& report) {
  if (metrics_ != nullptr) metrics_->ReportReceived(report, UnixMs(clock_->Now()));
  if (events_ == nullptr) return;
  v1::ReportSummary summary = Store::Summarize(report);
  v1::Event finished = MakeEvent(v1::EVENT_RUN_FINISHED, report.node(), report.revision());
  finished.set_message(absl::StrCat(TriggerLabel(report.trigger()), report.noop() ? " noop" : "",
                                    " run: ", summary.changed(), " changed, ", summary.failed(),
                                    " failed, ", summary.would_change(), " would change, ",
                                    summary.unchanged(), " unchanged"));
  *finished.mutable_report() = summary;
  Publish(finished);
  bool drift_run = report.trigger() == v1::INTERVAL || report.trigger() == v1::DRIFT;
  if (report.noop() || !drift_run || summary.changed() == 0) return;
  // Ids only: messages and diffs may describe contents, and events reach every watcher.
  constexpr size_t kMaxIds = 10;
  std::vector<std::string> ids;
  for (const v1::ResourceResult& r : report.results()) {
    if (r.outcome() == v1::CHANGED && ids.size() < kMaxIds) ids.push_back(r.id());
  }
  std::string more = summary.changed() > static_cast<int>(ids.size())
                         ? absl::StrCat(" and ", summary.changed() - ids.size(), " more")
                         : "";
  v1::Event drift = MakeEvent(v1::EVENT_DRIFT_REPAIRED, report.node(), report.revision(),
                              absl::StrCat("repaired ", absl::StrJoin(ids, ", "), more));
  *drift.mutable_report() = summary;
  Publish(drift);
}

void StreamHub::Post(std::function<void()> work) {
  queue_.Post([this, work = std::move(work)] {
    work();
    FlushNodes();
  });
}

void StreamHub::UpdateNode(const std::string& name, const std::function<void(v1::Node*)>& change,
                           bool unrevoke) {
  auto dirty = dirty_nodes_.find(name);
  if (dirty == dirty_nodes_.end()) {
    v1::Node node;
    auto existing = store_->GetNode(name);
    if (existing.ok()) {
      node = std::move(*existing);
    } else {
      node.set_name(name);
      node.set_status(v1::NODE_UNKNOWN);
    }
    dirty = dirty_nodes_.emplace(name, std::move(node)).first;
  }
  v1::Node& node = dirty->second;
  bool revoked = node.status() == v1::NODE_REVOKED;
  change(&node);
  if (revoked && !unrevoke) node.set_status(v1::NODE_REVOKED);
}

void StreamHub::FlushNodes() {
  if (dirty_nodes_.empty()) return;
  std::vector<v1::Node> nodes;
  nodes.reserve(dirty_nodes_.size());
  for (auto& [name, node] : dirty_nodes_) nodes.push_back(std::move(node));
  dirty_nodes_.clear();
  absl::Status s = store_->PutNodes(nodes);
  if (!s.ok()) {
    LogError("cannot store nodes", {{"nodes", nodes.size()}, {"first", nodes[0].name()},
                                    {"error", s.message()}});
  }
}

}  // namespace plumb
