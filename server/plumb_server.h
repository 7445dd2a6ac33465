#pragma once

// The assembled server: git source, store, catalog builder, stream hub, poller and the gRPC
// server carrying AgentService and FleetService. main() builds one from a ServerConfig.

#include <memory>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "grpcpp/grpcpp.h"
#include "server/agent_service.h"
#include "server/catalog_builder.h"
#include "server/fleet_service.h"
#include "server/git_source.h"
#include "server/revision_poller.h"
#include "server/run_tracker.h"
#include "server/server_config.h"
#include "server/store.h"
#include "server/stream_hub.h"

namespace plumb {

// Thread-safe after Start().
class PlumbServer {
 public:
  // Opens the store and mirror under config.state_dir, restores the serving revision and binds
  // the gRPC listener. Fails with a message naming what could not be opened or bound.
  static absl::StatusOr<std::unique_ptr<PlumbServer>> Start(const ServerConfig& config);
  ~PlumbServer();

  // Blocks until Shutdown() is called from another thread.
  void Wait();
  // Stops polling, closes streams (agents reconnect elsewhere or later) and the store.
  void Shutdown();

  int grpc_port() const { return grpc_port_; }
  StreamHub* hub() { return hub_.get(); }

 private:
  PlumbServer() = default;

  SystemClock clock_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<GitSource> git_;
  CatalogBuilder builder_;
  RunTracker runs_;
  std::unique_ptr<StreamHub> hub_;
  std::unique_ptr<RevisionPoller> poller_;
  std::unique_ptr<AgentServiceImpl> agent_service_;
  std::unique_ptr<FleetServiceImpl> fleet_service_;
  std::unique_ptr<grpc::Server> grpc_;
  int grpc_port_ = 0;
};

}  // namespace plumb
