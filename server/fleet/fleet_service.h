#pragma once

// plumb.v1.FleetService: the operators' API over nodes, reports and revisions. Unary calls,
// served from the store; low volume, so gRPC's synchronous thread pool is fine here.
// WatchEvents is the exception: a long-lived stream on the callback API (event_stream.h), so
// watchers hold no thread.

#include "absl/time/time.h"
#include "plumb/v1/fleet.grpc.pb.h"
#include "server/fleet/event_bus.h"
#include "server/fleet/plan.h"
#include "server/git/revision_poller.h"
#include "server/fleet/run_tracker.h"
#include "server/security/server_security.h"
#include "server/store/store.h"
#include "server/sync/stream_hub.h"

namespace plumb {

class ReplicaRelay;
class RolloutForwarding;

// Thread-safe. Nothing owned; everything must outlive the gRPC server. Without `events`
// WatchEvents answers UNIMPLEMENTED.
class FleetServiceImpl
    : public v1::FleetService::WithCallbackMethod_WatchEvents<v1::FleetService::Service> {
 public:
  FleetServiceImpl(Store* store, RevisionPoller* poller, StreamHub* hub, RunTracker* runs,
                   EventBus* events = nullptr)
      : store_(store), poller_(poller), hub_(hub), runs_(runs), events_(events) {}

  grpc::Status ListNodes(grpc::ServerContext*, const v1::ListNodesRequest* req,
                         v1::ListNodesResponse* resp) override;
  grpc::Status GetNode(grpc::ServerContext*, const v1::GetNodeRequest* req,
                       v1::Node* resp) override;
  grpc::Status ListReports(grpc::ServerContext*, const v1::ListReportsRequest* req,
                           v1::ListReportsResponse* resp) override;
  grpc::Status GetReport(grpc::ServerContext*, const v1::GetReportRequest* req,
                         v1::Report* resp) override;
  grpc::Status ListRevisions(grpc::ServerContext*, const v1::ListRevisionsRequest* req,
                             v1::ListRevisionsResponse* resp) override;
  grpc::Status GetRevision(grpc::ServerContext*, const v1::GetRevisionRequest* req,
                           v1::Revision* resp) override;
  grpc::Status Sync(grpc::ServerContext*, const v1::SyncRequest* req,
                    v1::SyncResponse* resp) override;
  grpc::Status Run(grpc::ServerContext*, const v1::RunNodesRequest* req,
                   v1::RunNodesResponse* resp) override;
  grpc::Status ListResourceEvents(grpc::ServerContext*, const v1::ListResourceEventsRequest* req,
                                  v1::ListResourceEventsResponse* resp) override;
  grpc::ServerWriteReactor<v1::Event>* WatchEvents(grpc::CallbackServerContext* context,
                                                   const v1::WatchEventsRequest* req) override;
  // Join tokens, revocation and operator certificates (fleet_security.cc); UNIMPLEMENTED without set_security().
  grpc::Status CreateToken(grpc::ServerContext*, const v1::CreateTokenRequest* req,
                           v1::CreateTokenResponse* resp) override;
  grpc::Status RevokeNode(grpc::ServerContext*, const v1::RevokeNodeRequest* req,
                          v1::RevokeNodeResponse* resp) override;
  grpc::Status ForgetNode(grpc::ServerContext*, const v1::ForgetNodeRequest* req,
                          v1::ForgetNodeResponse* resp) override;
  grpc::Status ListOperators(grpc::ServerContext*, const v1::ListOperatorsRequest* req,
                             v1::ListOperatorsResponse* resp) override;
  grpc::Status RevokeOperator(grpc::ServerContext*, const v1::RevokeOperatorRequest* req,
                              v1::RevokeOperatorResponse* resp) override;
  // What a ref would change (plan.h); UNIMPLEMENTED without set_planner().
  grpc::Status Plan(grpc::ServerContext*, const v1::PlanRequest* req,
                    v1::PlanResponse* resp) override;
  // Rollouts (fleet_rollouts.cc); UNIMPLEMENTED without set_rollout().
  grpc::Status GetRolloutStatus(grpc::ServerContext*, const v1::GetRolloutStatusRequest* req,
                                v1::RolloutStatus* resp) override;
  grpc::Status ControlRollout(grpc::ServerContext*, const v1::ControlRolloutRequest* req,
                              v1::RolloutStatus* resp) override;
  grpc::Status Rollback(grpc::ServerContext*, const v1::RollbackRequest* req,
                        v1::RollbackResponse* resp) override;
  grpc::Status Pin(grpc::ServerContext*, const v1::PinRequest* req,
                   v1::PinResponse* resp) override;
  grpc::Status Unpin(grpc::ServerContext*, const v1::UnpinRequest* req,
                     v1::PinResponse* resp) override;
  // Neither is owned; both must outlive the gRPC server.
  void set_rollout(RolloutController* rollout, LiveRevisions* live) {
    rollout_ = rollout;
    live_ = live;
  }
  // Environments: the rollout of line `environment` (a branch; "": the default line), or
  // {null, null} for no such line. Replaces set_rollout. Set before the server starts.
  using RolloutLookup =
      std::function<std::pair<RolloutController*, LiveRevisions*>(const std::string& environment)>;
  void set_rollout_lookup(RolloutLookup lookup) { rollout_lookup_ = std::move(lookup); }
  // Every line's controller: pins go to all of them (each decides for its own nodes only).
  void set_all_rollouts(std::vector<RolloutController*> all) { all_rollouts_ = std::move(all); }
  // Sync (plumbctl sync) fetches every line with this when set, else the poller.
  void set_sync(std::function<absl::StatusOr<v1::Revision>()> sync) { sync_ = std::move(sync); }
  // `planner` is not owned and must outlive the gRPC server.
  void set_planner(Planner* planner) { planner_ = planner; }
  // `security` is not owned and must outlive the gRPC server; null with --insecure.
  void set_security(ServerSecurity* security) { security_ = security; }
  // Replicas: Run asks the other replicas' agents too. Not owned; null with one server.
  void set_replicas(ReplicaRelay* replicas) { replicas_ = replicas; }
  // Replicas: on a follower, ControlRollout and Rollback are forwarded to the leader through
  // `forwarding`; on the leader, forwarded ones are executed here. Not owned; must outlive the
  // gRPC server (stop it before this service goes away). Null with one server.
  void set_rollout_forwarding(RolloutForwarding* forwarding);
  // How long a follower waits for the leader's answer to a forwarded rollback (the leader may
  // load the revision first; plumbctl waits 30 s); others wait RolloutForwarding::kTimeout.
  static constexpr absl::Duration kForwardedRollbackTimeout = absl::Seconds(25);

 private:
  Store* const store_;
  RevisionPoller* const poller_;
  StreamHub* const hub_;
  RunTracker* const runs_;
  EventBus* const events_;
  ServerSecurity* security_ = nullptr;
  Planner* planner_ = nullptr;
  RolloutController* rollout_ = nullptr;
  LiveRevisions* live_ = nullptr;
  RolloutLookup rollout_lookup_;
  std::vector<RolloutController*> all_rollouts_;
  // The live revisions of the line serving `node` (by its row's environment); live_ without
  // environments or for a node no line takes.
  LiveRevisions* LiveFor(const std::string& node);
  std::function<absl::StatusOr<v1::Revision>()> sync_;
  // The controller of line `environment` (set_rollout's without a lookup); null when none.
  RolloutController* RolloutOf(const std::string& environment) const;
  ReplicaRelay* replicas_ = nullptr;
  RolloutForwarding* forwarding_ = nullptr;
  // The rollout actions as executed on this replica (a local call on the leader, or one a
  // follower forwarded).
  grpc::Status ControlHere(const v1::ControlRolloutRequest& req, v1::RolloutStatus* resp);
  grpc::Status RollbackHere(const v1::RollbackRequest& req, v1::RollbackResponse* resp);
  // The nodes a Pin/Unpin names: `nodes` and those matching a non-empty `selector`.
  absl::StatusOr<std::vector<std::string>> PinTargets(
      const google::protobuf::RepeatedPtrField<std::string>& nodes,
      const google::protobuf::Map<std::string, std::string>& selector);
  // Hands the stored pins to the controller and re-offers catalogs.
  absl::Status ReloadPins();
};

// Sets Node.pinned_revision from the stored pins (ListNodes, GetNode).
void FillPins(Store* store, std::vector<v1::Node*> nodes);

}  // namespace plumb
