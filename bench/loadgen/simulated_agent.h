#pragma once

// One simulated agent: a real AgentService.Sync stream driven by gRPC's callback API, so
// thousands of them share a handful of threads. It speaks the protocol as plumb-agent does
// (Hello, Ack every CatalogUpdate, then after the apply delay a Report whose results say which
// resources changed, and waits for the ReportAck) but touches no filesystem.

#include <deque>
#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bench/loadgen/fleet_recorder.h"
#include "bench/loadgen/scheduler.h"
#include "grpcpp/grpcpp.h"
#include "plumb/v1/agent.grpc.pb.h"

namespace plumb {
namespace bench {

// Who a simulated agent is and how it behaves.
struct SimulatedAgentSpec {
  int index = 0;  // slot in the FleetRecorder
  std::string node;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> facts;
  absl::Duration apply_delay;
};

// Thread-safe. Reactions run on gRPC's threads; the delayed Report is sent from the
// Scheduler's thread. A hold keeps OnDone away until Stop(), so those writes stay legal.
class SimulatedAgent : public grpc::ClientBidiReactor<v1::AgentMessage, v1::ServerMessage> {
 public:
  // `stub`, `scheduler` and `recorder` are not owned and must outlive the agent.
  SimulatedAgent(SimulatedAgentSpec spec, v1::AgentService::Stub* stub, Scheduler* scheduler,
                 FleetRecorder* recorder);

  // Opens the stream and sends Hello. Call once.
  void Start();
  // Cancels the stream and releases the hold; OnDone follows. Call once, after Start().
  void Stop();
  // Blocks until OnDone has run (after Stop()); then the agent may be destroyed.
  void WaitDone();

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  void HandleUpdate(const v1::CatalogUpdate& update);
  // Builds the report for the catalog just acknowledged and schedules its sending.
  void ScheduleReport(const v1::CatalogUpdate& update, v1::RunTrigger trigger,
                      const std::string& request_id);
  void Send(v1::AgentMessage msg);
  // Starts the next write if none is in flight; called with mu_ released.
  void Pump();

  const SimulatedAgentSpec spec_;
  v1::AgentService::Stub* const stub_;
  Scheduler* const scheduler_;
  FleetRecorder* const recorder_;
  grpc::ClientContext context_;
  v1::ServerMessage in_;  // touched only by the read reactions

  // Reaction-side protocol state: reads are serialized, so only OnReadDone touches these.
  std::vector<std::string> order_;        // ids of the held catalog, in apply order
  std::string revision_;                  // revision of the held catalog
  std::string digest_;
  uint64_t next_run_ = 1;

  absl::Mutex mu_;
  std::deque<v1::AgentMessage> outbox_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool broken_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, std::string> pending_reports_ ABSL_GUARDED_BY(mu_);  // id -> revision
};

}  // namespace bench
}  // namespace plumb
