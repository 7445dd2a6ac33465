#pragma once

// The agent daemon's logic: keeps a Sync stream to the server (reconnecting with backoff and
// jitter), turns catalog updates into applied runs, enforces the cached catalog every interval
// (with or without a server), and delivers reports through the disk queue.

#include <atomic>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "agent/agent_config.h"
#include "agent/engine/apply_engine.h"
#include "agent/blob_cache.h"
#include "agent/channel_factory.h"
#include "agent/engine/drift_watch.h"
#include "agent/engine/inventory.h"
#include "agent/held_catalog.h"
#include "agent/host/filesystem.h"
#include "agent/report_queue.h"
#include "agent/sync_client.h"
#include "common/clock.h"
#include "plumb/v1/agent.pb.h"

namespace plumb {

// The daemon's fixed timings: not configuration, but tests stretch or shrink them. Every wait
// on these goes through the agent's Clock, except connect_timeout (a gRPC deadline).
struct AgentTiming {
  absl::Duration heartbeat = absl::Seconds(30);
  absl::Duration backoff_initial = absl::Milliseconds(500);  // reconnect, see backoff.h
  absl::Duration backoff_max = absl::Seconds(30);
  absl::Duration connect_timeout = absl::Seconds(5);  // daemon: for the channel to be ready
};

// Thread-safe: Run* from one thread, Stop() from any.
class Agent {
 public:
  // `runner`, `clock` and `channels` are not owned and must outlive the agent. Every timed
  // wait of the daemon (interval and splay, heartbeat, reconnect backoff) is on `clock`.
  static absl::StatusOr<std::unique_ptr<Agent>> Create(const AgentConfig& config,
                                                       CommandRunner* runner, Clock* clock,
                                                       ChannelFactory* channels,
                                                       AgentTiming timing = AgentTiming());

  // --once: one run of the server's current catalog. Returns 0 when every resource converged,
  // 1 when one failed or the server could not be reached (the cached catalog is applied then).
  int RunOnce();
  // The daemon: runs until Stop().
  void RunDaemon();
  void Stop();

 private:
  Agent(AgentConfig config, Clock* clock, ChannelFactory* channels, AgentTiming timing);

  // One connected stream, until it breaks or Stop(). `once` returns after the first run.
  // Returns true if the stream delivered at least one message.
  bool ServeStream(SyncClient* client, bool once, int* exit_code);
  // Applies an update: rebuilds the catalog, fetches blobs, caches it. Returns the error for
  // a NACK, or OK. `changed` says whether the catalog differs from the one held before.
  absl::Status AcceptUpdate(SyncClient* client, const v1::CatalogUpdate& update, bool* changed);
  // What a caller of RunCatalog needs of its report (the report itself is gone by then).
  struct RunSummary {
    std::string report_id;
    int failed = 0;  // resources FAILED
  };
  // Runs the held catalog, queues the report and sends it if a stream is open, then returns
  // the memory the run freed to the system.
  RunSummary RunCatalog(v1::RunTrigger trigger, bool noop, const std::string& request_id = "");
  // The run itself, under run_mu_: applies a parsed copy of the held catalog, records what it
  // created and pruned, re-watches, runs the health check. Returns the report.
  v1::Report ApplyHeld(v1::RunTrigger trigger, bool noop, const std::string& request_id);
  // Logs the run, cuts the report to the wire limits, queues it and sends it if a stream is open.
  void QueueAndSend(v1::Report report, v1::RunTrigger trigger, bool noop);
  void SendPendingReports(SyncClient* client);
  // Answers a NoopRequest (plumbctl plan --noop-sample) after any run in progress, touching
  // neither the held catalog nor the agent's state (agent/noop_runner.h).
  void AnswerNoop(SyncClient* client, const v1::NoopRequest& request);
  v1::Hello MakeHello(bool once);
  void IntervalLoop();
  // Sends a Heartbeat on the open stream every `heartbeat` so NATs and the server see us.
  void HeartbeatLoop();
  // Connects, serves the stream until it breaks, waits the backoff and again, until Stop().
  void ConnectLoop();
  // Waits on `clock_` for `d` or Stop(). Returns false when stopping.
  bool WaitUnlessStopping(absl::Duration d);

  const AgentConfig config_;
  Clock* const clock_;
  ChannelFactory* const channels_;
  const AgentTiming timing_;
  std::unique_ptr<BlobCache> blobs_;
  // Rooted at config.root; the one the engine and pruning use, always under run_mu_.
  std::unique_ptr<Filesystem> fs_;
  std::unique_ptr<ApplyEngine> engine_;
  std::unique_ptr<DriftWatch> drift_;  // daemon mode only; set before threads start
  std::unique_ptr<ReportQueue> reports_;

  absl::Mutex run_mu_;  // one run at a time; guards the held catalog
  // Serialized between runs: a run parses its own copy (held_catalog.h).
  HeldCatalog held_ ABSL_GUARDED_BY(run_mu_);
  std::unique_ptr<Inventory> inventory_ ABSL_GUARDED_BY(run_mu_);
  std::string applied_revision_ ABSL_GUARDED_BY(run_mu_);
  // The rollout health check that came with the held catalog (empty exec: none).
  v1::HealthCheck health_ ABSL_GUARDED_BY(run_mu_);
  CommandRunner* runner_ = nullptr;  // not owned; runs the health check

  absl::Mutex mu_;
  SyncClient* current_ ABSL_GUARDED_BY(mu_) = nullptr;  // the open stream, if any
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace plumb
