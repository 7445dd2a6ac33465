#pragma once

// plumb.v1.FleetService: the operators' API over nodes, reports and revisions. Unary calls,
// served from the store; low volume, so gRPC's synchronous thread pool is fine here.

#include "plumb/v1/fleet.grpc.pb.h"
#include "server/revision_poller.h"
#include "server/run_tracker.h"
#include "server/store.h"
#include "server/stream_hub.h"

namespace plumb {

// Thread-safe. Nothing owned; the store and poller must outlive the gRPC server.
class FleetServiceImpl : public v1::FleetService::Service {
 public:
  FleetServiceImpl(Store* store, RevisionPoller* poller, StreamHub* hub, RunTracker* runs)
      : store_(store), poller_(poller), hub_(hub), runs_(runs) {}

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

 private:
  Store* const store_;
  RevisionPoller* const poller_;
  StreamHub* const hub_;
  RunTracker* const runs_;
};

}  // namespace plumb
