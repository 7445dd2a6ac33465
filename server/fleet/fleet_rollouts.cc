// FleetService: rollouts (docs/rollouts.md). The status of the running (or last) rollout and
// the operators' actions on it; after an action every connected agent is offered its catalog
// again, since which revision a node gets may have changed.

#include "common/grpc_status.h"
#include "server/fleet/fleet_service.h"

namespace plumb {
namespace {

grpc::Status NoRollouts() {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "this server does not run rollouts");
}

}  // namespace

RolloutController* FleetServiceImpl::RolloutOf(const std::string& environment) const {
  if (rollout_lookup_) return rollout_lookup_(environment).first;
  return environment.empty() ? rollout_ : nullptr;
}

grpc::Status FleetServiceImpl::GetRolloutStatus(grpc::ServerContext*,
                                                const v1::GetRolloutStatusRequest* req,
                                                v1::RolloutStatus* resp) {
  std::string env = req != nullptr ? req->environment() : "";
  RolloutController* rollout = RolloutOf(env);
  if (rollout == nullptr && !env.empty()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no environment " + env);
  }
  if (rollout == nullptr) return NoRollouts();
  auto nodes = store_->ListNodes({}, v1::NODE_STATUS_UNSPECIFIED);
  if (!nodes.ok()) return ToGrpcStatus(nodes.status());
  *resp = rollout->Status(*nodes);
  return grpc::Status::OK;
}

grpc::Status FleetServiceImpl::ControlRollout(grpc::ServerContext* context,
                                              const v1::ControlRolloutRequest* req,
                                              v1::RolloutStatus* resp) {
  RolloutController* rollout = RolloutOf(req->environment());
  if (rollout == nullptr && !req->environment().empty()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no environment " + req->environment());
  }
  if (rollout == nullptr) return NoRollouts();
  absl::Status done;
  switch (req->action()) {
    case v1::ControlRolloutRequest::PAUSE: done = rollout->Pause(); break;
    case v1::ControlRolloutRequest::RESUME: done = rollout->Resume(); break;
    case v1::ControlRolloutRequest::ABORT: done = rollout->Abort(); break;
    case v1::ControlRolloutRequest::PROMOTE: done = rollout->Promote(req->wave()); break;
    default:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "action must be pause, resume, abort or promote");
  }
  if (!done.ok()) return ToGrpcStatus(done);
  hub_->OnNewRevision();  // re-offer: decisions may have changed
  v1::GetRolloutStatusRequest status;
  status.set_environment(req->environment());
  return GetRolloutStatus(context, &status, resp);
}

grpc::Status FleetServiceImpl::Rollback(grpc::ServerContext*, const v1::RollbackRequest* req,
                                        v1::RollbackResponse* resp) {
  const std::string& env = req->environment();
  RolloutController* rollout = RolloutOf(env);
  LiveRevisions* live = rollout_lookup_ ? rollout_lookup_(env).second : live_;
  if ((rollout == nullptr || live == nullptr) && !env.empty()) {
    return grpc::Status(grpc::StatusCode::NOT_FOUND, "no environment " + env);
  }
  if (rollout == nullptr || live == nullptr) return NoRollouts();
  if (!rollout->leads()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "this replica does not lead the rollout: ask the leader replica");
  }
  std::string to = req->to().empty() ? rollout->previous_revision() : req->to();
  if (to.empty()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "no earlier revision is known: give --to SHA");
  }
  absl::StatusOr<v1::Revision> rev = store_->GetRevision(to);
  if (!rev.ok()) return ToGrpcStatus(rev.status());
  if (rev->status() != v1::REVISION_OK) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "revision " + rev->sha() + " failed to compile");
  }
  // Buildable before any node is told to take it.
  if (absl::Status ok = live->Ensure(rev->sha()); !ok.ok()) return ToGrpcStatus(ok);
  rollout->RollBackTo(rev->sha(), rev->has_rollout() ? &rev->rollout() : nullptr, req->now());
  hub_->OnNewRevision();
  resp->set_revision(rev->sha());
  return grpc::Status::OK;
}

}  // namespace plumb
