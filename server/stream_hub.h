#pragma once

// The registry of connected agents and the Sync protocol's server half: answers Hello with the
// node's catalog (as a delta against what the agent holds), keeps one update in flight per
// agent with newer revisions coalescing, stores reports and acknowledges them, and tracks each
// node's status. All protocol work runs on one worker thread, never on gRPC's threads.

#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "plumb/v1/agent.pb.h"
#include "server/agent_session.h"
#include "server/catalog_builder.h"
#include "server/event_bus.h"
#include "server/run_tracker.h"
#include "server/server_metrics.h"
#include "server/store.h"
#include "server/work_queue.h"

namespace plumb {

// Thread-safe: public methods only post work to the hub's queue (or read atomics).
class StreamHub {
 public:
  // Nothing is owned; everything must outlive the hub. `events` and `metrics` may be null
  // (no events published, no metrics kept).
  StreamHub(Store* store, CatalogBuilder* builder, RunTracker* runs, Clock* clock,
            EventBus* events = nullptr, ServerMetrics* metrics = nullptr);
  ~StreamHub();

  // Reactor entry points.
  void OnMessage(std::shared_ptr<AgentSession> session, v1::AgentMessage msg);
  void OnDisconnect(std::shared_ptr<AgentSession> session);

  // A new revision is being served: offer every connected agent its catalog.
  void OnNewRevision();
  // Asks connected agents matching `nodes` (by name; empty: all) and `selector` to run now,
  // tagging their reports with `request_id`. `done` gets the names asked, on the worker thread,
  // before any report answering them is handled.
  void RequestRun(const std::map<std::string, std::string>& selector,
                  const std::vector<std::string>& nodes, bool noop, const std::string& request_id,
                  std::function<void(std::vector<std::string>)> done);

  // The node's certificates were revoked (closes its stream, refuses its Hello on streams
  // opened before, status revoked) or, with `revoked` false, it enrolled again (status
  // unknown until it connects).
  void SetRevoked(const std::string& node, bool revoked);
  // Removes the node: closes its stream and deletes its row. `done` gets NotFound if the store
  // has no such node. Revoke it first, or a live agent simply connects again.
  void ForgetNode(const std::string& node, std::function<void(absl::Status)> done);
  // True if `node` has an open stream whose latest catalogs name `digest` (GetBlob).
  bool MayFetchBlob(const std::string& node, const std::string& digest) const;

  // Number of agents with an open, greeted stream.
  int connected() const;
  // Total upserted resources sent over all streams (tests assert deltas with it).
  int64_t resources_sent() const;

  // Waits until queued work has run (tests, shutdown).
  void Drain() { queue_.Drain(); }

 private:
  void HandleHello(const std::shared_ptr<AgentSession>& s, const v1::Hello& hello);
  void HandleAck(const std::shared_ptr<AgentSession>& s, const v1::Ack& ack);
  void HandleReport(const std::shared_ptr<AgentSession>& s, v1::Report report);
  // Sends the node's catalog if it differs from what the agent holds and nothing is in flight.
  void OfferCatalog(const std::shared_ptr<AgentSession>& s);
  // The serving revision does not compile for the node (or, with `error` empty, compiles again
  // after it did not): record it on the session and the node's row.
  void SetCompileError(const std::shared_ptr<AgentSession>& s, const std::string& error);
  // The update from what `s` holds to `catalog` (built at builder generation `generation`).
  // Agents of one group hold the same catalog, so for held states this server sent, the delta
  // is computed once per (catalog, held digest) and shared.
  v1::CatalogUpdate DeltaFor(const AgentSession& s, const v1::Catalog& catalog,
                             uint64_t generation);
  // Posts `work` to the worker, followed by FlushNodes().
  void Post(std::function<void()> work);
  // Changes the node's row as of the end of the current work item (see dirty_nodes_).
  // Revoked is sticky: `change` cannot move a revoked node out of it unless `unrevoke`.
  void UpdateNode(const std::string& name, const std::function<void(v1::Node*)>& change,
                  bool unrevoke = false);
  // Writes the nodes changed by the work item that just ran, in one transaction.
  void FlushNodes();
  // Metrics and events for a newly stored report: run finished, and drift repaired.
  void ObserveReport(const v1::Report& report);
  void Publish(v1::Event event);

  Store* const store_;
  CatalogBuilder* const builder_;
  RunTracker* const runs_;
  Clock* const clock_;
  EventBus* const events_;
  ServerMetrics* const metrics_;

  mutable absl::Mutex mu_;
  // Worker-thread state, but read by connected(): guarded for that.
  std::map<std::string, std::shared_ptr<AgentSession>> by_node_ ABSL_GUARDED_BY(mu_);
  int64_t resources_sent_ ABSL_GUARDED_BY(mu_) = 0;
  // Worker-thread only: nodes revoked (and not enrolled again) since the server started. A
  // Hello naming one is refused, even on a stream authorized before the revocation.
  std::set<std::string> revoked_;

  // Worker-thread only: node rows changed by the running work item, written together when it
  // ends. A commit's fan-out is one work item: its 10,000 row updates are one transaction,
  // after every update has been sent, instead of a SELECT and an autocommit INSERT each
  // before the next agent's turn (docs/benchmarks.md, finding 2).
  std::map<std::string, v1::Node> dirty_nodes_;
  // Worker-thread only: DeltaFor's deltas of the builder generation delta_generation_.
  static constexpr size_t kMaxCachedDeltas = 256;
  std::map<std::string, v1::CatalogUpdate> delta_cache_;
  uint64_t delta_generation_ = 0;

  WorkQueue queue_;  // last: destroyed (joined) first, while the rest is still alive
};

// The node status a report implies, given the revision the node should be on.
v1::NodeStatus StatusFromReport(const v1::Report& report, const std::string& desired_revision);

// What last_error says when the serving revision does not compile for a node.
std::string NodeCompileErrorText(const std::string& revision, absl::string_view errors);

}  // namespace plumb
