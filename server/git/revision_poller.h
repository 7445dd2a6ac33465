#pragma once

// Follows the repository: fetches the branch every poll interval (or when asked), compiles a
// new head against every live known node, records the revision with its status and errors,
// and serves it unless the repository itself is wrong. A failed revision is never served;
// nodes stay on the last good one. An error that depends on one node's inputs
// (CompileError::node_dependent) fails that node alone: it is listed in the revision's
// node_failures, and the revision is served to everyone else. Revoked nodes, and nodes not
// seen for `stale_after`, are not compiled.

#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/clock.h"
#include "plumb/v1/fleet.pb.h"
#include "server/sync/catalog_builder.h"
#include "server/fleet/event_bus.h"
#include "server/git/environments.h"
#include "server/git/git_source.h"
#include "server/http/server_metrics.h"
#include "server/store/leadership.h"
#include "server/rollout/live_revisions.h"
#include "server/rollout/rollout_controller.h"
#include "server/store/store.h"

namespace plumb {

// At most this many node failures are listed in a revision (the rest are counted).
inline constexpr int kMaxRecordedNodeFailures = 1000;

// Whether a revision compiles for `node`: not revoked, and connected or seen within
// `stale_after` of `now` (stale_after <= 0: every unrevoked node). Plans skip the same nodes.
bool IsLiveNode(const v1::Node& node, absl::Time now, absl::Duration stale_after);

// Thread-safe: SyncNow may be called from any thread while the loop runs.
class RevisionPoller {
 public:
  // Nothing owned; all must outlive the poller. `on_served` runs after a new revision is served.
  // `events` and `metrics` may be null (no events published, no metrics kept).
  RevisionPoller(GitSource* git, Store* store, CatalogBuilder* builder, Clock* clock,
                 absl::Duration poll, std::function<void()> on_served,
                 EventBus* events = nullptr, ServerMetrics* metrics = nullptr);
  ~RevisionPoller();

  // New revisions go through `rollout` (docs/rollouts.md); `live` keeps the previous good
  // revision buildable while a rollout needs it. Not owned; set before Restore().
  void EnableRollouts(RolloutController* rollout, LiveRevisions* live) {
    rollout_ = rollout;
    live_ = live;
  }

  // Loads the last served revision from the store (so a restarted server serves at once), and
  // the rollout state with the revision it still serves besides.
  absl::Status Restore();
  // Starts the poll loop (first fetch immediately).
  void Start();
  void Stop();

  // Fetches now and evaluates the head. Returns the head revision as recorded.
  absl::StatusOr<v1::Revision> SyncNow();

  // `done` runs after every fetch, on the fetching thread, with its outcome (readiness
  // reporting: the gRPC health service). Set before Start().
  void set_on_fetch_result(std::function<void(bool ok)> done) { on_fetch_result_ = std::move(done); }

  // Asks the poll loop to fetch now and returns at once (webhooks). Requests made while a
  // fetch runs coalesce into one more fetch.
  void RequestSync();

  // Known nodes not connected and not seen for this long are left out of validation (0: none
  // are). Set before Start().
  void set_stale_after(absl::Duration stale_after) { stale_after_ = stale_after; }

  // Replicas on one PostgreSQL: only the leader records revisions; a follower serves the
  // revision the store says is serving, from its own mirror (fetched), compiled locally. Null
  // (the default): always the leader. Not owned. Set before Start().
  void set_leadership(Leadership* leadership) { leadership_ = leadership; }

  // The poller follows line `index` of `envs` (not owned, must outlive the poller): its
  // revisions are that line's (Revision.environment), and only known nodes the mapping puts in
  // it are compiled. Unset: the single line "" and every node. Set before Restore().
  void set_environment(const Environments* envs, int index) {
    envs_ = envs;
    env_index_ = index;
    env_ = envs->all()[index].name;
  }
  const std::string& environment() const { return env_; }

  // Whether the last fetch succeeded (readiness).
  bool last_fetch_ok() const;
  // Why the last fetch failed ("no fetch yet" before the first one); empty when it succeeded.
  std::string last_fetch_error() const;
  // When the serving revision was first fetched; InfinitePast if nothing is served.
  absl::Time serving_fetched() const;

 private:
  void Loop();
  void Publish(v1::EventKind kind, const std::string& sha, const std::string& message);
  // Compiles `sha` and records it; serves it unless it has repository errors.
  absl::StatusOr<v1::Revision> Evaluate(const CommitInfo& commit)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  // Loads the stored rollout state and the revisions it serves besides `sha` (rollouts on).
  absl::Status RestoreRollout(const std::string& sha);
  // A follower's sync: serves the store's serving revision if it is not served here yet.
  absl::StatusOr<v1::Revision> Follow() ABSL_EXCLUSIVE_LOCKS_REQUIRED(sync_mu_);
  // Compiles `state` once per group of the live known nodes into `compiled`. Errors of the
  // repository go to `errors` (named by node), node-dependent ones to `rev`'s node_failures.
  absl::Status Validate(const DesiredState& state,
                        absl::flat_hash_map<std::string, NodeCompileResult>* compiled,
                        std::vector<CompileError>* errors, v1::Revision* rev);
  // Hands the new good revision `rev` to the rollout controller, making the revision it keeps
  // serving to nodes not reached yet live first. `before`: the newest served until now.
  void StartRollout(const v1::Revision& rev, const std::shared_ptr<const DesiredState>& before);
  // Whether validation compiles `node`: not revoked, and connected or seen within stale_after_.
  bool Live(const v1::Node& node) const;

  GitSource* const git_;
  Store* const store_;
  CatalogBuilder* const builder_;
  Clock* const clock_;
  const absl::Duration poll_;
  absl::Duration stale_after_ = absl::Hours(24 * 7);
  const std::function<void()> on_served_;
  std::function<void(bool)> on_fetch_result_;
  EventBus* const events_;
  ServerMetrics* const metrics_;
  Leadership* leadership_ = nullptr;
  const Environments* envs_ = nullptr;
  int env_index_ = 0;
  std::string env_;  // the line's name ("" without environments)
  RolloutController* rollout_ = nullptr;
  LiveRevisions* live_ = nullptr;

  absl::Mutex sync_mu_;  // one fetch+compile at a time
  std::string last_evaluated_ ABSL_GUARDED_BY(sync_mu_);

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool sync_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool last_fetch_ok_ ABSL_GUARDED_BY(mu_) = false;
  std::string last_fetch_error_ ABSL_GUARDED_BY(mu_) = "no fetch yet";
  absl::Time serving_fetched_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::thread thread_;
};

}  // namespace plumb
