#pragma once

// Runs one load-generator experiment: connects the simulated fleet, optionally makes a commit
// and has the server fetch it, waits for the new catalog to reach every agent, and prints what
// it measured as markdown.

#include <memory>
#include <ostream>
#include <vector>

#include "bench/loadgen/fleet_recorder.h"
#include "bench/loadgen/loadgen_options.h"
#include "bench/loadgen/scheduler.h"
#include "bench/loadgen/simulated_agent.h"
#include "plumb/v1/fleet.grpc.pb.h"

namespace plumb {
namespace bench {

// The server-side instants of the commit phase.
struct CommitTimes {
  std::string revision;
  absl::Time cmd_start, sync_start, fetched, sync_end;  // fetched: the server's Revision field
};

// Thread-compatible: Run() once, from one thread.
class FleetDriver {
 public:
  FleetDriver(LoadgenOptions options, std::ostream* out);
  ~FleetDriver();

  // Returns 0 when every agent got through every phase in time, 1 otherwise.
  int Run();

 private:
  // --tls-ca-dir: one agent certificate per connection and an operator certificate.
  absl::Status MintCredentials();
  void StartAgents();
  // Waits for every agent's first catalog and first report ack; false on timeout.
  bool ConnectPhase();
  // Commit, Sync and wait for the new revision everywhere; false on failure or timeout.
  bool CommitPhase();
  void StopAgents();
  void PrintResults();

  const LoadgenOptions options_;
  std::ostream* const out_;
  absl::Time run_start_;
  absl::Time deadline_;
  FleetRecorder recorder_;
  std::unique_ptr<Scheduler> scheduler_;
  std::vector<std::shared_ptr<grpc::ChannelCredentials>> agent_credentials_;  // by channel
  std::shared_ptr<grpc::ChannelCredentials> operator_credentials_;  // null: plaintext
  std::vector<std::shared_ptr<grpc::Channel>> channels_;
  std::vector<std::unique_ptr<v1::AgentService::Stub>> stubs_;
  std::vector<std::unique_ptr<SimulatedAgent>> agents_;
  CommitTimes commit_;
  absl::Time connected_at_ = absl::InfiniteFuture();
  absl::Time reported_at_ = absl::InfiniteFuture();
  ProcessSample server_idle_, server_connected_, server_committed_;
  ProcessSample self_connected_, self_end_;
  std::vector<std::string> problems_;
};

}  // namespace bench
}  // namespace plumb
