// FleetService: rollouts (docs/rollouts.md). The status of the running (or last) rollout and
// the operators' actions on it; after an action every connected agent is offered its catalog
// again, since which revision a node gets may have changed. With replicas on PostgreSQL a
// follower forwards the actions to the leader (rollout_forwarding.h), which executes them here
// as if they had been sent to it.

#include <algorithm>
#include <chrono>

#include "common/grpc_status.h"
#include "server/fleet/fleet_service.h"
#include "server/fleet/rollout_forwarding.h"

namespace plumb {
namespace {

grpc::Status NoRollouts() {
  return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "this server does not run rollouts");
}

grpc::Status NoEnvironment(const std::string& environment) {
  return grpc::Status(grpc::StatusCode::NOT_FOUND, "no environment " + environment);
}

// How long a follower waits for the leader's answer: `limit`, or less when the caller's own
// deadline comes sooner (leaving it half a second to receive the UNAVAILABLE).
absl::Duration AnswerTimeout(grpc::ServerContext* context, absl::Duration limit) {
  if (context == nullptr) return limit;
  absl::Duration left =
      absl::FromChrono(context->deadline() - std::chrono::system_clock::now()) -
      absl::Milliseconds(500);
  return std::max(absl::Milliseconds(100), std::min(left, limit));
}

grpc::Status FromAnswer(const v1::ForwardedRolloutAnswer& answer) {
  if (answer.code() == 0) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(answer.code()), answer.message());
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
  if (rollout == nullptr && !env.empty()) return NoEnvironment(env);
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
    return NoEnvironment(req->environment());
  }
  if (rollout == nullptr) return NoRollouts();
  if (forwarding_ == nullptr || rollout->leads()) return ControlHere(*req, resp);
  v1::ForwardedRolloutAction action;
  *action.mutable_control() = *req;
  absl::StatusOr<v1::ForwardedRolloutAnswer> answer =
      forwarding_->Ask(std::move(action), AnswerTimeout(context, RolloutForwarding::kTimeout));
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  if (answer->code() != 0) return FromAnswer(*answer);
  *resp = answer->status();
  // The leader stored the new header before it answered: serve this replica's agents from it
  // now rather than at the next rollout tick.
  if (rollout->TakeStoredHeader()) hub_->OnNewRevision();
  return grpc::Status::OK;
}

grpc::Status FleetServiceImpl::ControlHere(const v1::ControlRolloutRequest& req,
                                           v1::RolloutStatus* resp) {
  RolloutController* rollout = RolloutOf(req.environment());
  if (rollout == nullptr) return NoEnvironment(req.environment());
  absl::Status done;
  switch (req.action()) {
    case v1::ControlRolloutRequest::PAUSE: done = rollout->Pause(); break;
    case v1::ControlRolloutRequest::RESUME: done = rollout->Resume(); break;
    case v1::ControlRolloutRequest::ABORT: done = rollout->Abort(); break;
    case v1::ControlRolloutRequest::PROMOTE: done = rollout->Promote(req.wave()); break;
    default:
      return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                          "action must be pause, resume, abort or promote");
  }
  if (!done.ok()) return ToGrpcStatus(done);
  hub_->OnNewRevision();  // re-offer: decisions may have changed
  v1::GetRolloutStatusRequest status;
  status.set_environment(req.environment());
  return GetRolloutStatus(nullptr, &status, resp);
}

grpc::Status FleetServiceImpl::Rollback(grpc::ServerContext* context,
                                        const v1::RollbackRequest* req,
                                        v1::RollbackResponse* resp) {
  const std::string& env = req->environment();
  RolloutController* rollout = RolloutOf(env);
  LiveRevisions* live = rollout_lookup_ ? rollout_lookup_(env).second : live_;
  if ((rollout == nullptr || live == nullptr) && !env.empty()) return NoEnvironment(env);
  if (rollout == nullptr || live == nullptr) return NoRollouts();
  if (forwarding_ == nullptr || rollout->leads()) return RollbackHere(*req, resp);
  v1::ForwardedRolloutAction action;
  *action.mutable_rollback() = *req;
  // The leader may have to load the revision first (LiveRevisions::Ensure): a longer wait.
  absl::StatusOr<v1::ForwardedRolloutAnswer> answer =
      forwarding_->Ask(std::move(action), AnswerTimeout(context, kForwardedRollbackTimeout));
  if (!answer.ok()) return ToGrpcStatus(answer.status());
  if (answer->code() != 0) return FromAnswer(*answer);
  // A new rollout: this replica's poller takes it up when the header's NOTIFY reaches it
  // (RevisionPoller::Follow), loading the revision from its own mirror.
  *resp = answer->rollback();
  return grpc::Status::OK;
}

grpc::Status FleetServiceImpl::RollbackHere(const v1::RollbackRequest& req,
                                            v1::RollbackResponse* resp) {
  RolloutController* rollout = RolloutOf(req.environment());
  LiveRevisions* live = rollout_lookup_ ? rollout_lookup_(req.environment()).second : live_;
  if (rollout == nullptr || live == nullptr) return NoEnvironment(req.environment());
  if (!rollout->leads()) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        "this replica does not lead the rollout");
  }
  std::string to = req.to().empty() ? rollout->previous_revision() : req.to();
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
  // Checked after loading, which may take a while: leadership may have moved meanwhile.
  if (!rollout->leads()) {
    return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                        "this replica stopped leading the rollout: try again");
  }
  rollout->RollBackTo(rev->sha(), rev->has_rollout() ? &rev->rollout() : nullptr, req.now());
  hub_->OnNewRevision();
  resp->set_revision(rev->sha());
  return grpc::Status::OK;
}

void FleetServiceImpl::set_rollout_forwarding(RolloutForwarding* forwarding) {
  forwarding_ = forwarding;
  forwarding->SetLeader(
      [this](const std::string& environment) {
        RolloutController* rollout = RolloutOf(environment);
        if (rollout != nullptr) return rollout->leads();
        // A line this replica does not know: the leader says so (NOT_FOUND).
        return rollout_ != nullptr && rollout_->leads();
      },
      [this](const v1::ForwardedRolloutAction& action) {
        v1::ForwardedRolloutAnswer answer;
        grpc::Status done =
            action.has_control() ? ControlHere(action.control(), answer.mutable_status())
                                 : RollbackHere(action.rollback(), answer.mutable_rollback());
        if (!done.ok()) {
          answer.Clear();
          answer.set_code(done.error_code());
          answer.set_message(done.error_message());
        }
        return answer;
      });
}

}  // namespace plumb
