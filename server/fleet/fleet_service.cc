#include "server/fleet/fleet_service.h"

#include <optional>
#include <set>

#include "absl/synchronization/notification.h"
#include "common/grpc_status.h"
#include "server/security/call_authorizer.h"
#include "server/fleet/event_stream.h"
#include "server/fleet/replica_relay.h"

namespace plumb {

grpc::Status FleetServiceImpl::ListNodes(grpc::ServerContext*, const v1::ListNodesRequest* req,
                                         v1::ListNodesResponse* resp) {
  auto nodes = store_->ListNodes({req->selector().begin(), req->selector().end()}, req->status());
  if (!nodes.ok()) return ToGrpcStatus(nodes.status());
  for (v1::Node& n : *nodes) *resp->add_nodes() = std::move(n);
  std::vector<v1::Node*> filled;
  for (v1::Node& n : *resp->mutable_nodes()) filled.push_back(&n);
  FillPins(store_, filled);
  return grpc::Status::OK;
}

grpc::Status FleetServiceImpl::GetNode(grpc::ServerContext*, const v1::GetNodeRequest* req,
                                       v1::Node* resp) {
  auto node = store_->GetNode(req->name());
  if (!node.ok()) return ToGrpcStatus(node.status());
  *resp = std::move(*node);
  FillPins(store_, {resp});
  if (resp->last_report_id().empty()) return grpc::Status::OK;
  // The last run, for "which hosts are failing, on what": absent if retention pruned it.
  auto report = store_->GetReport(resp->last_report_id());
  if (!report.ok()) return grpc::Status::OK;
  *resp->mutable_last_run() = Store::Summarize(*report);
  for (const v1::ResourceResult& r : report->results()) {
    if (r.outcome() != v1::FAILED) continue;
    v1::ResourceResult* failing = resp->add_failing_resources();
    *failing = r;
    failing->clear_diff();  // the summary stays small; `plumbctl report ID` shows diffs
  }
  return grpc::Status::OK;
}

grpc::Status FleetServiceImpl::ListResourceEvents(grpc::ServerContext*,
                                                  const v1::ListResourceEventsRequest* req,
                                                  v1::ListResourceEventsResponse* resp) {
  if (req->limit() < 0) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "limit must not be negative");
  }
  auto events = store_->ListResourceEvents(*req);
  if (!events.ok()) return ToGrpcStatus(events.status());
  for (v1::ResourceEvent& e : *events) *resp->add_events() = std::move(e);
  return grpc::Status::OK;
}

grpc::ServerWriteReactor<v1::Event>* FleetServiceImpl::WatchEvents(
    grpc::CallbackServerContext* context, const v1::WatchEventsRequest* req) {
  if (events_ == nullptr) {
    // A reactor that finishes at once, as BlobWriter does for errors.
    class Unimplemented : public grpc::ServerWriteReactor<v1::Event> {
     public:
      Unimplemented() { Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no event bus")); }
      void OnDone() override { delete this; }
    };
    return new Unimplemented();
  }
  // A watch outlives the check made when it was opened: it ends once its certificate is
  // revoked (RevokeOperator publishes an event, which wakes it).
  std::function<grpc::Status()> still_authorized;
  std::optional<CertInfo> cert;
  if (security_ != nullptr && context->auth_context() != nullptr) {
    cert = PeerCertificate(*context->auth_context());
  }
  if (cert.has_value()) {
    const RevocationCheck* revocations = security_->identities();
    still_authorized = [revocations, cert = *cert] {
      if (!revocations->IsRevoked(cert)) return grpc::Status::OK;
      return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                          "the certificate of operator \"" + cert.common_name +
                              "\" has been revoked");
    };
  }
  return NewEventStream(events_, *req, std::move(still_authorized));
}

grpc::Status FleetServiceImpl::ListReports(grpc::ServerContext*,
                                           const v1::ListReportsRequest* req,
                                           v1::ListReportsResponse* resp) {
  auto reports = store_->ListReports(req->node(), req->limit());
  if (!reports.ok()) return ToGrpcStatus(reports.status());
  for (v1::ReportSummary& r : *reports) *resp->add_reports() = std::move(r);
  return grpc::Status::OK;
}

grpc::Status FleetServiceImpl::GetReport(grpc::ServerContext*, const v1::GetReportRequest* req,
                                         v1::Report* resp) {
  auto report = store_->GetReport(req->id());
  if (!report.ok()) return ToGrpcStatus(report.status());
  *resp = std::move(*report);
  return grpc::Status::OK;
}

grpc::Status FleetServiceImpl::ListRevisions(grpc::ServerContext*,
                                             const v1::ListRevisionsRequest* req,
                                             v1::ListRevisionsResponse* resp) {
  // Empty: every line (a server without environments has one, named "").
  auto revs = store_->ListRevisions(req->environment().empty() ? kAnyEnvironment
                                                                : req->environment(),
                                    req->limit() > 0 ? req->limit() : 50);
  if (!revs.ok()) return ToGrpcStatus(revs.status());
  for (v1::Revision& r : *revs) *resp->add_revisions() = std::move(r);
  return grpc::Status::OK;
}

grpc::Status FleetServiceImpl::GetRevision(grpc::ServerContext*,
                                           const v1::GetRevisionRequest* req, v1::Revision* resp) {
  auto rev = store_->GetRevision(req->sha());
  if (!rev.ok()) return ToGrpcStatus(rev.status());
  *resp = std::move(*rev);
  return grpc::Status::OK;
}

grpc::Status FleetServiceImpl::Plan(grpc::ServerContext*, const v1::PlanRequest* req,
                                    v1::PlanResponse* resp) {
  if (planner_ == nullptr) return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "no planner");
  auto plan = planner_->Plan(*req);
  if (!plan.ok()) return ToGrpcStatus(plan.status());
  *resp = std::move(*plan);
  return grpc::Status::OK;
}

grpc::Status FleetServiceImpl::Sync(grpc::ServerContext*, const v1::SyncRequest*,
                                    v1::SyncResponse* resp) {
  auto rev = sync_ ? sync_() : poller_->SyncNow();
  if (!rev.ok()) return ToGrpcStatus(rev.status());
  resp->set_revision(rev->sha());
  resp->set_status(rev->status());
  return grpc::Status::OK;
}

}  // namespace plumb

namespace plumb {

grpc::Status FleetServiceImpl::Run(grpc::ServerContext*, const v1::RunNodesRequest* req,
                                   v1::RunNodesResponse* resp) {
  std::string id = runs_->Begin();
  absl::Notification asked_known;
  std::vector<std::string> asked;
  std::vector<std::string> named(req->nodes().begin(), req->nodes().end());
  hub_->RequestRun({req->selector().begin(), req->selector().end()}, named, req->noop(), id,
                   [&](std::vector<std::string> names) {
                     asked = names;
                     runs_->SetAsked(id, names);
                     asked_known.Notify();
                   });
  asked_known.WaitForNotification();
  if (replicas_ != nullptr) {
    replicas_->AskOthers(id, {req->selector().begin(), req->selector().end()}, named,
                         req->noop());
    asked = runs_->WaitAsked(id, ReplicaRelay::kAnswerTimeout);
  }
  resp->set_request_id(id);
  std::map<std::string, v1::ReportSummary> reports;
  if (req->wait()) {
    int seconds = req->timeout_seconds() > 0 ? req->timeout_seconds() : 60;
    reports = runs_->Wait(id, absl::Seconds(seconds));
  } else {
    runs_->End(id);
  }
  std::set<std::string> all(asked.begin(), asked.end());
  for (const std::string& n : named) all.insert(n);
  for (const std::string& n : all) {
    v1::NodeRunResult* r = resp->add_results();
    r->set_node(n);
    if (std::find(asked.begin(), asked.end(), n) == asked.end()) {
      r->set_error("not connected");
      continue;
    }
    auto it = reports.find(n);
    if (it != reports.end()) {
      r->set_reported(true);
      *r->mutable_report() = it->second;
    } else if (req->wait()) {
      r->set_error("timed out waiting for the report");
    }
  }
  return grpc::Status::OK;
}

}  // namespace plumb
