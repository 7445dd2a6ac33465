#pragma once

// Every revision line the server follows: one per server.yaml `environments:` entry, or the
// single line of repo.branch. Each line has its own branch mirror, catalog builder, live
// revisions, rollout controller (the `rollout:` of that branch's plumb.yaml, state in its own
// row) and revision poller, so a commit on one branch is fetched, validated, gated and rolled
// out without touching the others. The hub serves each node its line's catalogs (ServingLines).

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "server/fleet/event_bus.h"
#include "server/git/environments.h"
#include "server/git/git_source.h"
#include "server/git/revision_poller.h"
#include "server/http/server_metrics.h"
#include "server/rollout/live_revisions.h"
#include "server/rollout/rollout_controller.h"
#include "server/store/environment_store.h"
#include "server/store/leadership.h"
#include "server/store/store.h"
#include "server/sync/catalog_builder.h"
#include "server/sync/stream_hub.h"

namespace plumb {

// One line's objects. Owned by RevisionLines; `git` is not owned for the single line.
struct RevisionLine {
  Environment env;
  GitSource* git = nullptr;
  std::unique_ptr<GitSource> own_git;
  std::unique_ptr<CatalogBuilder> builder;
  std::unique_ptr<EnvironmentStore> rollout_store;  // named lines: their own rollout row
  std::unique_ptr<LiveRevisions> live;
  std::unique_ptr<RolloutController> rollout;
  std::unique_ptr<RevisionPoller> poller;
};

// What every line shares.
struct RevisionLineSettings {
  std::string repo_url;
  std::string state_dir;  // named lines' mirrors: state_dir/mirror-<branch>.git
  absl::Duration repo_timeout = absl::Seconds(60);
  absl::Duration poll = absl::Seconds(30);
  absl::Duration stale_after = absl::Hours(24 * 7);
};

// Thread-safe after Open (lines are fixed; each line's objects are thread-safe).
class RevisionLines {
 public:
  // Builds a line per entry of `envs`. Not owned, all must outlive this: `single_git` (the
  // mirror of repo.branch) serves the single line; `leadership` may be null. `on_served` runs
  // after any line serves a new revision. Fails if a named line's mirror cannot be opened.
  static absl::StatusOr<std::unique_ptr<RevisionLines>> Open(
      const Environments& envs, const RevisionLineSettings& settings, GitSource* single_git,
      Store* store, Clock* clock, EventBus* events, ServerMetrics* metrics,
      Leadership* leadership, std::function<void()> on_served);
  ~RevisionLines();

  const Environments& environments() const { return envs_; }
  size_t size() const { return lines_.size(); }
  RevisionLine& line(size_t i) { return *lines_[i]; }
  // The line named `name` (a branch; "" without environments); null when there is none.
  RevisionLine* Find(const std::string& name);
  // The line nodes without a better match get, for operator actions without `--env`: the
  // default entry (no labels), else the last one.
  RevisionLine& default_line();

  // Restores every line's serving revision and rollout (a line that cannot is logged).
  void Restore();
  void Start();
  void Stop();
  // Asks every line's poller to fetch now (webhooks, leadership changes).
  void RequestSync();
  // Asks the line following `branch` to fetch now (a webhook naming the pushed branch); false
  // when no line follows it.
  bool RequestSync(const std::string& branch);
  // Fetches every line now; the default line's head revision (plumbctl sync).
  absl::StatusOr<v1::Revision> SyncNow();
  // Every line's last fetch succeeded; else the first failure, named by branch.
  absl::Status FetchStatus() const;
  // A blob of any live revision of any line (AgentService.GetBlob).
  absl::StatusOr<std::shared_ptr<const std::string>> Blob(const std::string& digest) const;
  // The lines as the hub serves them, and the node -> line mapping (null without environments).
  std::vector<ServingLine> ServingLines() const;
  LineMatcher Matcher() const;

 private:
  explicit RevisionLines(Environments envs) : envs_(std::move(envs)) {}
  const Environments envs_;
  std::vector<std::unique_ptr<RevisionLine>> lines_;
};

}  // namespace plumb
