#pragma once

// The registry of connected agents and the Sync protocol's server half: answers Hello with the
// node's catalog (as a delta against what the agent holds), keeps one update in flight per
// agent with newer revisions coalescing, and hands reports to the report intake. Node rows
// change through the node book. All protocol work runs on one worker thread, never on gRPC's
// threads.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "plumb/v1/agent.pb.h"
#include "server/sync/agent_session.h"
#include "server/sync/catalog_builder.h"
#include "server/sync/node_book.h"
#include "server/sync/noop_requests.h"
#include "server/sync/report_intake.h"
#include "server/sync/shared_update.h"
#include "server/fleet/event_bus.h"
#include "server/fleet/run_tracker.h"
#include "server/http/server_metrics.h"
#include "server/rollout/live_revisions.h"
#include "server/rollout/rollout_controller.h"
#include "server/store/store.h"
#include "server/sync/work_queue.h"

namespace plumb {

// One revision line as the hub serves it (server/git/revision_lines.h): the catalogs of its
// newest revision, and, with rollouts, the controller deciding each node's revision and the
// builders of the others. Nothing owned.
struct ServingLine {
  std::string environment;  // Revision.environment: "" for the single line
  CatalogBuilder* builder = nullptr;
  RolloutController* rollout = nullptr;  // null: no rollouts
  LiveRevisions* live = nullptr;         // with `rollout`
};

// A node's line from its trusted labels: an index into the hub's lines, -1 for none.
using LineMatcher = std::function<int(const std::map<std::string, std::string>& labels)>;

// Thread-safe: public methods only post work to the hub's queue (or read atomics).
class StreamHub {
 public:
  // Nothing is owned; everything must outlive the hub. `events` and `metrics` may be null
  // (no events published, no metrics kept).
  StreamHub(Store* store, CatalogBuilder* builder, RunTracker* runs, Clock* clock,
            EventBus* events = nullptr, ServerMetrics* metrics = nullptr);
  ~StreamHub();

  // Enforces rollouts (docs/rollouts.md): each node is offered the revision `rollout` decides,
  // built by `live`'s builders, and the rollout is ticked every kRolloutTick and after reports.
  // Neither owned; both must outlive the hub. Call once, before agents connect.
  void EnableRollouts(RolloutController* rollout, LiveRevisions* live);
  static constexpr absl::Duration kRolloutTick = absl::Milliseconds(250);

  // Environments (server.yaml `environments:`): each node is served by the line `match` picks
  // from its trusted labels at its Hello (none: it is sent no catalog), and its row names the
  // line (Node.environment). Replaces the constructor's builder and EnableRollouts. Call once,
  // before agents connect; the lines' objects must outlive the hub.
  void SetLines(std::vector<ServingLine> lines, LineMatcher match);

  // Replicas on PostgreSQL: each row this hub writes for a node whose stream it holds says
  // `connected` (NodeBook::set_holds), whatever the row it read said; what a node reads as
  // comes from every replica's presence rows. Call once, before agents connect.
  void EnableReplicas();

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

  // Sends `node`'s agent NoopRequest{request_id, catalog} (plumbctl plan --noop-sample);
  // `request_id` comes from noop_requests().Start. If the node has no open stream, or the
  // catalog is over the wire limit, the request fails at once (NoopRequests::Fail). The answer
  // goes to noop_requests(), nowhere else.
  void SendNoop(const std::string& node, const std::string& request_id,
                std::shared_ptr<const v1::Catalog> catalog);
  NoopRequests& noop_requests() { return noops_; }
  const NoopRequests& noop_requests() const { return noops_; }

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

  // Messages of all streams waiting for (or in) the worker, reports waiting to be stored again
  // included; and the most one stream ever had (at most AgentSession::kMaxQueuedMessages when
  // streams come through the reactor). Tests and diagnosis.
  int queued_messages() const { return queued_messages_.load(); }
  int max_stream_backlog() const { return max_stream_backlog_.load(); }
  // Reports whose PutReport failed (each attempt counts).
  int64_t report_store_failures() const { return report_store_failures_.load(); }

  // A report the store refused is stored again on the same stream after
  // kReportRetryFirst, doubling up to kReportRetryMax, for kReportStoreAttempts attempts in
  // all; then the stream ends UNAVAILABLE and the agent re-sends it after reconnecting.
  static constexpr int kReportStoreAttempts = 8;
  static constexpr absl::Duration kReportRetryFirst = absl::Milliseconds(100);
  static constexpr absl::Duration kReportRetryMax = absl::Seconds(5);

  // Waits until queued work has run and the node rows it changed are written (tests,
  // shutdown).
  void Drain();

  // Node rows changed by a work item are written at its end unless more work is queued behind
  // it: then with the next items' changes, in one transaction, once the queue is empty or
  // kMaxDeferredItems items have deferred them. 10,000 agents connecting at once are a few
  // dozen transactions instead of 10,000 (docs/benchmarks.md, issue 18, connecting at once).
  static constexpr int kMaxDeferredItems = 256;

  // A revision fanning out to at least kParallelFanOutMin agents has their deltas computed and
  // their writes started on up to kFanOutThreads threads, the worker among them (OfferAll).
  static constexpr size_t kParallelFanOutMin = 32;
  static constexpr unsigned kFanOutThreads = 4;

 private:
  void HandleHello(const std::shared_ptr<AgentSession>& s, const v1::Hello& hello);
  // Closes `s` and returns true if its Hello may not be taken (no node, another node than the
  // certificate's, a second Hello, a revoked node).
  bool RefuseHello(const std::shared_ptr<AgentSession>& s, const v1::Hello& hello);
  void HandleAck(const std::shared_ptr<AgentSession>& s, const v1::Ack& ack);
  // A NoopResult: to noop_requests() only (never stored, no node row, no rollout).
  void HandleNoopResult(const std::shared_ptr<AgentSession>& s, v1::NoopResult result);
  // `attempt`: how many times storing this report failed already on this stream.
  void HandleReport(const std::shared_ptr<AgentSession>& s, v1::Report report, int attempt = 0);
  // Schedules another HandleReport of `report` after a backoff (holding one of the stream's
  // message slots meanwhile), or ends the stream after kReportStoreAttempts.
  void RetryReport(const std::shared_ptr<AgentSession>& s, v1::Report report, int attempt,
                   const absl::Status& error);
  // One of `s`'s messages enters / leaves the worker's queue (read flow control).
  void Enqueued(AgentSession& s);
  void Handled(AgentSession& s);
  // Sends the node's catalog if it differs from what the agent holds and nothing is in flight.
  void OfferCatalog(const std::shared_ptr<AgentSession>& s);

  // ---- OfferCatalog's steps (stream_hub_fanout.cc) ----
  // An offer that passed its checks: the catalog to send, and then the update carrying it.
  struct Offer {
    std::shared_ptr<AgentSession> session;
    std::shared_ptr<const v1::Catalog> catalog;
    uint64_t generation = 0;
    RolloutController* rollout = nullptr;  // of the node's line; null: no rollouts
    RolloutDecision decision;
    // The delta, once computed: shared with the other offers of the same delta.
    std::shared_ptr<const SharedUpdate> delta;
    std::string nonce;      // once started
    v1::ServerMessage msg;  // only when the node's update differs from the delta (rollouts)
  };
  // Offers each session its catalog, like OfferCatalog one after the other, but with the
  // deltas computed and the writes started on up to kFanOutThreads threads, the worker being
  // one of them: protocol state still changes on the worker only, before and after. (Sessions
  // must be distinct: a rollout's Decide for one node ignores the others' OnServed.)
  void OfferAll(const std::vector<std::shared_ptr<AgentSession>>& sessions);
  // Up to the delta: decides the catalog, and returns nothing if none is to be sent.
  std::optional<Offer> PrepareOffer(const std::shared_ptr<AgentSession>& s);
  // After the delta: checks its size (too large: fails the node, returns false), starts the
  // update (nonce), counts it and records it on the node row. The caller then calls SendOffer.
  bool StartOffer(Offer& offer);
  // Queues the started offer's update on its session (any thread).
  static void SendOffer(Offer& offer);
  // The delta of `offer`, computed and serialized now (any thread: reads what the session
  // holds, which only the worker changes, while the worker waits).
  static std::shared_ptr<const SharedUpdate> ComputeOfferDelta(const Offer& offer);
  // The builder has no catalog for the node (`why`): a compile error of its own inputs fails
  // the node alone; anything else is recorded as its last error.
  void NoCatalog(const std::shared_ptr<AgentSession>& s, const absl::Status& why);
  // The serving revision does not compile for the node (or, with `error` empty, compiles again
  // after it did not): record it on the session and the node's row.
  void SetCompileError(const std::shared_ptr<AgentSession>& s, const std::string& error);
  // The update from what `s` holds to `catalog` (built at builder generation `generation`).
  // Agents of one group hold the same catalog, so for held states this server sent (or agents
  // holding nothing), the delta is computed and serialized once per (catalog, held digest) and
  // shared.
  std::shared_ptr<const SharedUpdate> DeltaFor(const SyncState& s, const v1::Catalog& catalog,
                                               uint64_t generation);
  // DeltaFor's cache key of the delta to `catalog` for `s` ("" when `s`'s held state may not
  // share deltas); clears the cache when `generation` is not the cached one.
  std::string DeltaKey(const SyncState& s, const v1::Catalog& catalog, uint64_t generation);
  void CacheDelta(std::string key, std::shared_ptr<const SharedUpdate> delta);
  // The blobs `catalog` (built by `builder` at `generation`) names, pinned: one object per
  // catalog digest, shared by the sessions offered it (AgentSession::AllowBlobs).
  std::shared_ptr<const OfferedBlobs> BlobsFor(const CatalogBuilder& builder,
                                               const v1::Catalog& catalog, uint64_t generation);
  // Posts `work` to the worker, followed by writing the node rows it changed (NodeBook) when
  // due (FlushNodesWhenDue).
  void Post(std::function<void()> work);
  // After a work item: writes the pending node rows unless more work is queued and fewer than
  // kMaxDeferredItems items have deferred them.
  void FlushNodesWhenDue();
  // The same, after `delay`.
  void PostAfter(absl::Duration delay, std::function<void()> work);
  void Publish(v1::Event event);
  // The connected nodes of line `line` as its rollout sees them.
  std::vector<RolloutNode> OnlineNodes(int line) const;
  // The line serving `s` (null: no environment matches its labels).
  const ServingLine* LineOf(const SyncState& s) const;
  // No environment matches the node's labels: it is sent nothing (stream_hub_rollout.cc).
  void NoEnvironment(const std::shared_ptr<AgentSession>& s);
  // Ticks the rollout; re-offers every connected node its catalog when a decision changed.
  void TickRollout();
  // TickRollout every kRolloutTick, for as long as the hub runs.
  void ScheduleRolloutTick();
  // Changes whenever the catalog any node should get may have changed (NeedsOffer).
  uint64_t ServingGeneration();

  Store* const store_;
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

  // Worker-thread only: node rows (written at the end of each work item) and reports.
  NodeBook nodes_;
  int deferred_items_ = 0;  // work items whose node rows wait in nodes_
  ReportIntake intake_;
  // Set by the constructor, EnableRollouts or SetLines before agents connect; line 0 alone
  // (match_ null) when the server has no environments.
  std::vector<ServingLine> lines_;
  LineMatcher match_;
  // Worker-thread only: what ServingGeneration last saw, and its answer.
  uint64_t seen_builder_generation_ = 0, seen_rollout_epoch_ = 0, serving_generation_ = 0;

  // Worker-thread only: DeltaFor's deltas of the builder generation delta_generation_.
  static constexpr size_t kMaxCachedDeltas = 256;
  std::map<std::string, std::shared_ptr<const SharedUpdate>> delta_cache_;
  uint64_t delta_generation_ = 0;
  // Worker-thread only: BlobsFor's objects of the generation blobs_generation_, by catalog
  // digest (sessions keep theirs alive after the cache drops them).
  static constexpr size_t kMaxCachedBlobs = 256;
  std::map<std::string, std::shared_ptr<const OfferedBlobs>> blobs_cache_;
  uint64_t blobs_generation_ = 0;

  NoopRequests noops_;  // thread-safe on its own

  std::atomic<int> queued_messages_{0};
  std::atomic<int> max_stream_backlog_{0};
  std::atomic<int64_t> report_store_failures_{0};

  WorkQueue queue_;  // last: destroyed (joined) first, while the rest is still alive
};

}  // namespace plumb
