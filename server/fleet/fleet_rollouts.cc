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

grpc::Status FleetServiceImpl::GetRolloutStatus(grpc::ServerContext*,
                                                const v1::GetRolloutStatusRequest*,
                                                v1::RolloutStatus* resp) {
  if (rollout_ == nullptr) return NoRollouts();
  auto nodes = store_->ListNodes({}, v1::NODE_STATUS_UNSPECIFIED);
  if (!nodes.ok()) return ToGrpcStatus(nodes.status());
  *resp = rollout_->Status(*nodes);
  return grpc::Status::OK;
}

grpc::Status FleetServiceImpl::ControlRollout(grpc::ServerContext* context,
                                              const v1::ControlRolloutRequest* req,
                                              v1::RolloutStatus* resp) {
  if (rollout_ == nullptr) return NoRollouts();
  absl::Status done;
  switch (req->action()) {
    case v1::ControlRolloutRequest::PAUSE: done = rollout_->Pause(); break;
    case v1::ControlRolloutRequest::RESUME: done = rollout_->Resume(); break;
    case v1::ControlRolloutRequest::ABORT: done = rollout_->Abort(); break;
    case v1::ControlRolloutRequest::PROMOTE: done = rollout_->Promote(req->wave()); break;
    default:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "action must be pause, resume, abort or promote");
  }
  if (!done.ok()) return ToGrpcStatus(done);
  hub_->OnNewRevision();  // re-offer: decisions may have changed
  return GetRolloutStatus(context, nullptr, resp);
}

}  // namespace plumb
