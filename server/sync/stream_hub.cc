#include "server/sync/stream_hub.h"

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "common/catalog.h"
#include "common/logging.h"
#include "common/wire_limits.h"
#include "server/git/environments.h"
#include "server/security/label_policy.h"

namespace plumb {
namespace {

std::string Short(const std::string& sha) { return sha.substr(0, 12); }

int64_t UnixMs(absl::Time t) { return absl::ToUnixMillis(t); }

}  // namespace

StreamHub::StreamHub(Store* store, CatalogBuilder* builder, RunTracker* runs, Clock* clock,
                     EventBus* events, ServerMetrics* metrics)
    : store_(store), clock_(clock), events_(events), metrics_(metrics),
      nodes_(store), intake_(store, &nodes_, runs, clock, events, metrics),
      lines_{ServingLine{"", builder}}, noops_(clock) {}

StreamHub::~StreamHub() { Drain(); }

void StreamHub::Drain() {
  queue_.Drain();
  // What the last items deferred (they saw the drain's own marker queued behind them).
  absl::Notification written;
  queue_.Post([this, &written] {
    nodes_.Flush();
    deferred_items_ = 0;
    written.Notify();
  });
  written.WaitForNotification();
}

int StreamHub::connected() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(by_node_.size());
}

int64_t StreamHub::resources_sent() const {
  absl::MutexLock lock(&mu_);
  return resources_sent_;
}

void StreamHub::OnMessage(std::shared_ptr<AgentSession> session, v1::AgentMessage msg) {
  Enqueued(*session);
  Post([this, s = std::move(session), m = std::move(msg)]() mutable {
    absl::Cleanup handled = [this, &s] { Handled(*s); };
    // A stream already being closed (error, revocation, replaced) gets nothing more done: in
    // particular a queued Hello must not replace, and close, the node's live stream.
    if (s->closing()) return;
    if (!s->sync().greeted() && m.kind_case() != v1::AgentMessage::kHello) {
      s->Close(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "the first message must be Hello"));
      return;
    }
    switch (m.kind_case()) {
      case v1::AgentMessage::kHello: HandleHello(s, m.hello()); break;
      case v1::AgentMessage::kAck: HandleAck(s, m.ack()); break;
      case v1::AgentMessage::kReport: HandleReport(s, std::move(*m.mutable_report())); break;
      case v1::AgentMessage::kNoopResult:
        HandleNoopResult(s, std::move(*m.mutable_noop_result()));
        break;
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

void StreamHub::EnableReplicas() {
  // On the worker, which alone touches nodes_.
  queue_.Post([this] {
    nodes_.set_holds([this](const std::string& node) {
      absl::MutexLock lock(&mu_);
      return by_node_.count(node) > 0;
    });
  });
}

void StreamHub::OnDisconnect(std::shared_ptr<AgentSession> session) {
  Post([this, s = std::move(session)] {
    if (!s->sync().greeted()) return;
    const std::string& name = s->sync().node();
    {
      absl::MutexLock lock(&mu_);
      auto it = by_node_.find(name);
      if (it == by_node_.end() || it->second != s) return;  // replaced by a newer stream
      by_node_.erase(it);
    }
    noops_.FailNode(name, "the agent disconnected before answering");
    LogInfo("agent disconnected", {{"node", name}});
    Publish(MakeEvent(v1::EVENT_NODE_DISCONNECTED, name));
    nodes_.Update(name, [&](v1::Node* n) {
      n->set_connected(false);
      if (!s->sync().run_once()) n->set_status(v1::NODE_OFFLINE);
      n->set_last_seen_unix_ms(UnixMs(clock_->Now()));
    });
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
    OfferAll(sessions);
  });
}

bool StreamHub::RefuseHello(const std::shared_ptr<AgentSession>& s, const v1::Hello& hello) {
  if (hello.node().empty()) {
    s->Close(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "Hello.node is empty"));
    return true;
  }
  if (!s->verified_node.empty() && hello.node() != s->verified_node) {
    LogWarning("Hello names another node than the certificate",
               {{"certificate", s->verified_node}, {"hello", hello.node()}, {"peer", s->peer()}});
    s->Close(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          absl::StrCat("this certificate is node \"", s->verified_node,
                                       "\"; it may not speak for \"", hello.node(), "\"")));
    return true;
  }
  if (s->sync().greeted()) {
    s->Close(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "Hello sent twice"));
    return true;
  }
  if (revoked_.count(hello.node()) > 0) {
    // A stream authorized just before the revocation, whose Hello comes after it: it must not
    // get what closing the node's stream just denied it (CallAuthorizer refuses new ones).
    s->Close(grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          absl::StrCat("the certificate of node \"", hello.node(),
                                       "\" has been revoked")));
    return true;
  }
  return false;
}

void StreamHub::HandleHello(const std::shared_ptr<AgentSession>& s, const v1::Hello& hello) {
  if (RefuseHello(s, hello)) return;
  NodeInputs inputs;
  inputs.name = hello.node();
  NodeLabels labels = MergeHelloLabels({hello.labels().begin(), hello.labels().end()},
                                       s->bound_labels, s->hello_label_keys);
  inputs.labels = std::move(labels.labels);
  inputs.facts = {hello.facts().begin(), hello.facts().end()};
  s->sync().Greet(hello, std::move(inputs));
  s->sync().set_line(match_ ? match_(s->sync().inputs().labels) : 0);
  std::string ignored = absl::StrJoin(labels.ignored, ",");
  if (!ignored.empty()) {
    LogWarning("Hello labels ignored: not allowed by the node's join token",
               {{"node", hello.node()}, {"ignored", ignored}});
    ignored = absl::StrCat("; labels not allowed by its join token ignored: ", ignored);
  }
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
                    absl::StrCat("agent ", hello.agent_version(), " from ", s->peer(), ignored)));
  nodes_.Update(hello.node(), [&](v1::Node* n) {
    n->set_name(hello.node());
    n->mutable_labels()->clear();
    n->mutable_labels()->insert(s->sync().inputs().labels.begin(),
                                 s->sync().inputs().labels.end());
    *n->mutable_facts() = hello.facts();
    n->set_agent_version(hello.agent_version());
    if (match_) {
      int line = s->sync().line();
      n->set_environment(line < 0 ? std::string(kNoEnvironment) : lines_[line].environment);
    }
    if (!hello.applied_revision().empty()) n->set_applied_revision(hello.applied_revision());
    n->set_connected(true);
    n->set_last_seen_unix_ms(UnixMs(clock_->Now()));
    if (n->status() == v1::NODE_OFFLINE || n->status() == v1::NODE_STATUS_UNSPECIFIED) {
      // Back online: the last run's outcome is the node's status until the next run.
      n->set_status(nodes_.StatusOfLastRun(*n));
    }
  });
  OfferCatalog(s);
}

void StreamHub::NoCatalog(const std::shared_ptr<AgentSession>& s, const absl::Status& why) {
  LogWarning("no catalog for node", {{"node", s->sync().node()}, {"error", why.message()}});
  if (absl::IsInvalidArgument(why)) {
    // The node's own inputs fail this revision: nothing is sent, the agent keeps (and keeps
    // enforcing) its last good catalog.
    const ServingLine* line = LineOf(s->sync());
    auto state = line != nullptr ? line->builder->desired_state() : nullptr;
    SetCompileError(s, NodeCompileErrorText(state ? state->revision() : "", why.message()));
    return;
  }
  nodes_.Update(s->sync().node(),
                [&](v1::Node* n) { n->set_last_error(std::string(why.message())); });
}

void StreamHub::SetCompileError(const std::shared_ptr<AgentSession>& s, const std::string& error) {
  s->sync().set_compile_error(error);
  nodes_.Update(s->sync().node(), [&](v1::Node* n) {
    if (!error.empty()) {
      n->set_status(v1::NODE_FAILED);
      n->set_last_error(error);
      return;
    }
    // Compiles again: until its next run, the node is what its last run said.
    n->clear_last_error();
    n->set_status(nodes_.StatusOfLastRun(*n));
  });
}

void StreamHub::HandleAck(const std::shared_ptr<AgentSession>& s, const v1::Ack& ack) {
  std::shared_ptr<const v1::Catalog> sent = s->sync().TakeAck(ack);
  if (sent == nullptr) return;  // stale
  if (!ack.error().empty()) {
    LogWarning("catalog rejected by agent", {{"node", s->sync().node()}, {"error", ack.error()}});
    nodes_.Update(s->sync().node(), [&](v1::Node* n) {
      n->set_status(v1::NODE_FAILED);
      n->set_last_error(absl::StrCat("catalog rejected: ", ack.error()));
    });
  } else if (!s->sync().NeedsOffer(ServingGeneration())) {
    return;  // nothing newer is served than what was just acknowledged: no need to build it
  }
  OfferCatalog(s);
}

void StreamHub::HandleReport(const std::shared_ptr<AgentSession>& s, v1::Report report,
                             int attempt) {
  const ServingLine* line = LineOf(s->sync());
  if (line != nullptr && line->rollout != nullptr && attempt == 0) {
    line->rollout->OnReport({s->sync().node(), s->sync().inputs().labels}, report);
  }
  if (!intake_.Take(s, std::move(report), attempt)) return;
  // The first report of a batch: store it with every report queued behind it, in one
  // transaction, once the worker gets there.
  Post([this] {
    for (ReportIntake::Refused& r : intake_.Flush()) {
      RetryReport(r.session, std::move(r.report), r.attempt, r.error);
    }
    TickRollout();  // a failure halts before anything else is offered
  });
}

void StreamHub::Publish(v1::Event event) {
  if (events_ != nullptr) events_->Publish(std::move(event));
}

void StreamHub::Post(std::function<void()> work) {
  queue_.Post([this, work = std::move(work)] {
    work();
    FlushNodesWhenDue();
  });
}

void StreamHub::FlushNodesWhenDue() {
  if (nodes_.pending() == 0) {  // nothing changed, or a report batch wrote them already
    deferred_items_ = 0;
    return;
  }
  if (queue_.queued() > 0 && ++deferred_items_ < kMaxDeferredItems) return;
  deferred_items_ = 0;
  nodes_.Flush();
}

}  // namespace plumb
