#pragma once

// Enforces a revision's `rollout:` policy (docs/rollouts.md): which revision each node is
// served while a rollout runs (its wave reached: the target; otherwise the previous good
// revision; halted with rollback: the previous one again), what each node's runs of the target
// said, and when the next wave starts (every online node of the current wave reported, no more
// than max_failed failed, and the bake time passed). Time comes from the injected Clock;
// Tick() advances waves. The state is one v1::RolloutState in memory; in the Store it is a
// header row (phase, wave, bake, halt: written when they change) and one row per node outcome,
// written in batches by the controller's writer thread, so OnServed/OnReport (the hub's thread)
// only note the outcome. Restore() reads both back after a restart and re-derives outcomes the
// writer had not stored yet from the node rows and their last reports.

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "common/clock.h"
#include "common/compiler/rollout_waves.h"
#include "plumb/v1/fleet.pb.h"
#include "server/fleet/event_bus.h"
#include "server/store/store.h"

namespace plumb {

// What a node is served now.
struct RolloutDecision {
  std::string revision;   // empty: no rollout constrains the node (serve the newest revision)
  bool rollback = false;  // the catalog rolls the node back (its run reports trigger ROLLBACK)
  v1::HealthCheck health;  // the policy's health check when `revision` is the target
};

// A connected node as the controller sees it.
using RolloutMember = RolloutNode;

// Thread-safe (one mutex for the state; header writes happen under it, node rows on the
// writer thread outside it).
class RolloutController {
 public:
  // Nothing owned; all must outlive the controller. `events` may be null. Starts the writer
  // thread; the destructor stores what it has not stored yet and stops it.
  RolloutController(Store* store, Clock* clock, EventBus* events = nullptr);
  ~RolloutController();
  RolloutController(const RolloutController&) = delete;
  RolloutController& operator=(const RolloutController&) = delete;

  // Loads the stored state (none stored: no rollout). A node the stored rows do not show with
  // an outcome, but whose node row says it was served the target, gets its outcome from its
  // last report (a run of the target: succeeded or failed) or counts as served.
  absl::Status Restore();
  // Blocks until every node outcome noted so far is in the store. Returns the store's error.
  absl::Status Flush();

  // A new good revision `sha` is now the newest (`serving_before` was, "" if none). With a
  // policy, it starts a rollout at the first wave, superseding a running one (nodes not yet
  // updated stay on that one's previous revision and never apply it). Without one, or with
  // nothing served before, every node gets `sha` at once. Returns the revision nodes not yet
  // reached are served ("" when none).
  std::string OnNewRevision(const std::string& sha, const std::string& serving_before,
                            const v1::RolloutPolicy* policy);

  // The operator's rollback (FleetService.Rollback) to `to`, a good revision the caller made
  // live: with `now` (or no policy) every node gets it at once; otherwise it rolls out through
  // `policy` (null: the current rollout's) from the first wave, nodes not reached yet staying on
  // the current target.
  void RollBackTo(const std::string& to, const v1::RolloutPolicy* policy, bool now);
  // The revision nodes a new rollout has not reached stay on: the running rollout's previous
  // one, else the last rollout's target, else `serving`.
  std::string BaseRevision(const std::string& serving) const;
  // The previous good revision of the running (or last) rollout ("" when none is known).
  std::string previous_revision() const;
  // Every revision a decision may name now (target, previous while active, pins).
  std::set<std::string> live_revisions() const;

  RolloutDecision Decide(const RolloutNode& node) const;
  // The node was sent (or already holds) `revision`.
  void OnServed(const RolloutNode& node, const std::string& revision);
  // A report of the node's run: one of the target counts as a success or a failure.
  void OnReport(const RolloutNode& node, const v1::Report& report);
  // Halts on too many failures, starts the next wave when the current one is done and baked.
  // `online`: the connected nodes. True if any node's decision may have changed.
  bool Tick(const std::vector<RolloutNode>& online);

  // Pins (plumbctl pin): a pinned node is served its pin's revision whatever the rollout says,
  // and neither blocks nor counts in a wave. Replaces every pin (node -> sha).
  void SetPins(std::map<std::string, std::string> pins);
  // The revisions nodes are pinned to.
  std::set<std::string> pinned_revisions() const;

  // Changes whenever any decision may change (the hub re-offers catalogs then).
  uint64_t epoch() const;
  // True while a rollout is under way; Tick does nothing otherwise (the hub then skips
  // listing its connected nodes for it).
  bool active() const;
  // The revision besides the newest that nodes may be served now ("" when none).
  std::string stable_revision() const;
  // Per-wave counts over `known` nodes (connected ones are online).
  v1::RolloutStatus Status(const std::vector<v1::Node>& known) const;

  // Operator actions (FleetService.ControlRollout). FailedPrecondition when the rollout is not
  // in a phase that allows it. `wave` for Promote: 1-based wave to start now; 0 = the next.
  absl::Status Pause();
  absl::Status Resume();
  absl::Status Abort();
  absl::Status Promote(int wave);

  // Replicas sharing a PostgreSQL store (issue 16, docs/postgresql.md "Replicas"): `is_leader`
  // says whether this replica leads now; `environment` is the line's as v1::Node.environment
  // names it ("" for the single line). Not called (one server): the controller is the only
  // one. Called: only the leader judges waves, writes the header and takes operator actions
  // (on a follower they fail with FailedPrecondition; FleetService forwards them to the
  // leader, server/fleet/rollout_forwarding.h); every replica writes its own agents' outcome
  // rows; and the stored rollout is re-read (at most every kRefreshEvery, asked for by Tick,
  // read by a thread of the controller's own so that the hub's thread never waits for the
  // database, and taken by the next Tick): the leader merges the other replicas' outcomes and
  // counts their connected nodes (store presence) as online, a follower takes the leader's
  // header. Call once, before use.
  void SetReplicated(std::function<bool()> is_leader, std::string environment);
  // Replicas: how many stored reads Tick has taken so far, and whether one is asked for, in
  // progress or waiting to be taken (tests wait on them).
  uint64_t reads_taken() const;
  bool read_pending() const;
  // Whether this controller may change the rollout (always without replicas).
  bool leads() const;
  // A follower: true when the stored rollout is another one than this controller's (the leader
  // started one, e.g. a rollback): Restore() takes it up.
  bool StoredIsAnother() const;
  // A follower: takes the stored header of this same rollout now (after the leader answered a
  // forwarded operator action) rather than at the next tick. True if a decision may have
  // changed (the hub re-offers catalogs then); false on the leader, without replicas, when
  // nothing changed, or when the stored rollout is another one (RevisionPoller takes that up).
  bool TakeStoredHeader();
  // Whether the stored rollout was written for revision `sha`, fetched at `fetched_ms`, or
  // later: its target is `sha`, or it started after `sha` was fetched (an operator rollback).
  // True when none is stored. A follower takes up `sha` only then (the leader stores the
  // serving revision first, the rollout's header just after).
  absl::StatusOr<bool> StoredIsFor(const std::string& sha, int64_t fetched_ms) const;
  static constexpr absl::Duration kRefreshEvery = absl::Seconds(1);

 private:
  bool Leads() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !is_leader_ || is_leader_(); }
  // The re-read of SetReplicated: takes the last read if one is done (appending, on the
  // leader, the other replicas' online nodes to `online` and setting `fresh`: the leader judges
  // waves only then, never on its own nodes alone), and asks the reader for the next one when
  // due. True if a decision may have changed.
  bool Refresh(std::vector<RolloutNode>* online, bool* fresh) ABSL_LOCKS_EXCLUDED(mu_);
  // One re-read of the stored rollout, made by the reader thread.
  struct StoredRead {
    uint64_t id = 0;       // the rollout it was asked for
    bool leader = false;   // asked for as the leader (then with `others`)
    bool ok = false;       // read, and still that rollout
    absl::Time asked;      // when Refresh asked for it
    v1::RolloutState stored;
    std::vector<RolloutNode> others;  // the leader's: nodes connected to any replica
  };
  // The reader thread (replicas only): makes the reads Refresh asks for, until the destructor.
  void ReadLoop();
  StoredRead ReadStored(uint64_t id, bool leader, const std::string& environment)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Merges a stored state of the same rollout: outcomes this copy lacks (or has older) and,
  // on a follower, the header. True if anything changed.
  bool MergeStored(v1::RolloutState stored, bool leader) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  size_t WaveCount() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  size_t WaveOf(const RolloutNode& node) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string WaveName(size_t wave) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Active() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Halts (or rolls back) if a reached wave has more failures than it tolerates.
  bool CheckHalt(const std::vector<RolloutNode>& online) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts the next wave if the current one is done and baked; true if it did.
  bool MaybeAdvance(const std::vector<RolloutNode>& online) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartWave(size_t wave) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Changed() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Stores the header and, in the same call, every outcome not stored yet.
  void Persist() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Notes a node's outcome for the writer.
  void Record(const std::string& node, const v1::RolloutNodeResult& result)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A new rollout replaces the state: `next` gets the next id; unstored outcomes are dropped.
  void Replace(v1::RolloutState next) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds the outcomes of served nodes that Restore found no row for (see Restore()).
  absl::Status Rederive() ABSL_LOCKS_EXCLUDED(mu_);
  // The writer thread: stores the noted outcomes in batches until the destructor.
  void WriteLoop();
  // Stores one batch of noted outcomes; false if there was none.
  bool WriteBatch(absl::Status* status) ABSL_LOCKS_EXCLUDED(mu_);
  bool HasUnsaved() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || (!unsaved_.empty() && !writing_);
  }
  void Publish(v1::EventKind kind, const std::string& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetPolicy() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Store* const store_;
  Clock* const clock_;
  EventBus* const events_;

  mutable absl::Mutex mu_;
  v1::RolloutState state_ ABSL_GUARDED_BY(mu_);
  RolloutPolicy policy_ ABSL_GUARDED_BY(mu_);  // state_.policy, for wave membership
  uint64_t epoch_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, std::string> pins_ ABSL_GUARDED_BY(mu_);
  // Outcomes noted but not stored yet (newest per node), for the writer.
  std::map<std::string, v1::RolloutNodeResult> unsaved_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;  // a batch is being stored outside mu_
  // Persist() stored outcomes while a batch was being written (that batch may be older).
  bool persisted_while_writing_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread writer_;
  std::function<bool()> is_leader_ ABSL_GUARDED_BY(mu_);  // null: the only server
  std::string environment_ ABSL_GUARDED_BY(mu_);
  absl::Time refreshed_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // The reader's work: a read asked for (of read_id_, as read_leader_), one in progress, its
  // result until Tick takes it.
  bool read_wanted_ ABSL_GUARDED_BY(mu_) = false;
  bool reading_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t read_id_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Time read_asked_ ABSL_GUARDED_BY(mu_);
  bool read_leader_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<StoredRead> read_ ABSL_GUARDED_BY(mu_);
  uint64_t reads_taken_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread reader_;  // started by SetReplicated
};

// Why a run of a rollout's target failed (its first failed resource, or its health check), or
// "" if it did not.
std::string RolloutRunFailure(const v1::Report& report);

// The policy as the compiler's wave functions take it (the inverse of RolloutPolicyToProto).
RolloutPolicy RolloutPolicyFromProto(const v1::RolloutPolicy& proto);

}  // namespace plumb
