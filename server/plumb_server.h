#pragma once

// The assembled server: git source, store, catalog builder, stream hub, poller, event bus,
// retention, the gRPC server carrying AgentService, FleetService, grpc.health.v1 and server
// reflection, and the HTTP listener (/metrics, /healthz, /readyz, /hooks/git). main() builds
// one from a ServerConfig.

#include <memory>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "grpcpp/grpcpp.h"
#include "server/console/console_server.h"
#include "server/sync/agent_service.h"
#include "server/sync/catalog_builder.h"
#include "server/fleet/event_bus.h"
#include "server/fleet/fleet_service.h"
#include "server/fleet/replica_relay.h"
#include "server/fleet/rollout_forwarding.h"
#include "server/git/git_source.h"
#include "server/http/http_server.h"
#include "server/http/metrics.h"
#include "server/store/replica_link.h"
#include "server/store/retention.h"
#include "server/git/revision_lines.h"
#include "server/git/revision_poller.h"
#include "server/fleet/run_tracker.h"
#include "server/server_config.h"
#include "server/http/server_metrics.h"
#include "server/security/server_security.h"
#include "server/store/store.h"
#include "server/sync/stream_hub.h"

namespace plumb {

// Thread-safe after Start().
class PlumbServer {
 public:
  // Opens the store and mirror under config.state_dir, restores the serving revision and binds
  // the gRPC and HTTP listeners (an empty http_listen disables HTTP). Fails with a message
  // naming what could not be opened or bound. Metrics go to `metrics` (not owned; must outlive
  // the server) or, when null, to a registry of the server's own.
  static absl::StatusOr<std::unique_ptr<PlumbServer>> Start(const ServerConfig& config,
                                                            MetricsRegistry* metrics = nullptr);
  ~PlumbServer();

  // Blocks until Shutdown() is called from another thread.
  void Wait();
  // Stops polling, closes streams (agents reconnect elsewhere or later) and the store.
  void Shutdown();

  int grpc_port() const { return grpc_port_; }
  // 0 when HTTP is disabled.
  int http_port() const { return http_ != nullptr ? http_->port() : 0; }
  // 0 when the console is disabled.
  int console_port() const { return console_ != nullptr ? console_->port() : 0; }
  StreamHub* hub() { return hub_.get(); }
  EventBus* events() { return events_.get(); }

 private:
  PlumbServer() = default;
  void RegisterCallbackMetrics();
  absl::Status StartHttp(const ServerConfig& config);
  // plumb_server_console.cc: the web console, when console_listen is set.
  absl::Status StartConsole(const ServerConfig& config);
  // OK when the database answers and the last fetch succeeded; otherwise why not.
  absl::Status Ready();

  SystemClock clock_;
  std::unique_ptr<MetricsRegistry> own_registry_;
  MetricsRegistry* registry_ = nullptr;
  std::unique_ptr<ServerMetrics> metrics_;
  std::unique_ptr<EventBus> events_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<GitSource> git_;
  RunTracker runs_;
  std::unique_ptr<Leadership> leadership_;  // before lines_: the pollers read it
  // Per environment (or the single line): mirror, builder, rollout, poller. Before hub_: the
  // hub serves their builders, so it is destroyed (drained) first.
  std::unique_ptr<RevisionLines> lines_;
  std::unique_ptr<StreamHub> hub_;
  // Replicas on PostgreSQL (null with SQLite): destroyed before the hub, bus and tracker.
  std::unique_ptr<ReplicaLink> replica_link_;
  std::unique_ptr<ReplicaRelay> relay_;
  std::unique_ptr<RolloutForwarding> rollout_forwarding_;  // with relay_; Stop()ped in Shutdown
  std::unique_ptr<NoopSampler> noop_sampler_;  // before planner_: destroyed after it
  std::unique_ptr<Planner> planner_;
  std::unique_ptr<RetentionPruner> retention_;
  std::unique_ptr<ServerSecurity> security_;  // null with --insecure
  std::unique_ptr<AgentServiceImpl> agent_service_;
  std::unique_ptr<FleetServiceImpl> fleet_service_;
  std::unique_ptr<grpc::Server> grpc_;
  int grpc_port_ = 0;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<ConsoleServer> console_;  // last: stopped and destroyed first
};

}  // namespace plumb
