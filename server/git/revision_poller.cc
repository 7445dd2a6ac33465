#include "server/git/revision_poller.h"

#include <algorithm>
#include <set>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/parallel_for.h"
#include "common/status_macros.h"

namespace plumb {

RevisionPoller::RevisionPoller(GitSource* git, Store* store, CatalogBuilder* builder, Clock* clock,
                               absl::Duration poll, std::function<void()> on_served,
                               EventBus* events, ServerMetrics* metrics)
    : git_(git), store_(store), builder_(builder), clock_(clock), poll_(poll),
      on_served_(std::move(on_served)), events_(events), metrics_(metrics) {}

RevisionPoller::~RevisionPoller() { Stop(); }

absl::Status RevisionPoller::Restore() {
  PLUMB_ASSIGN_OR_RETURN(std::string sha, store_->ServingRevision(env_));
  if (sha.empty()) return absl::OkStatus();
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<RepoTree> tree, git_->TreeAt(sha));
  std::shared_ptr<const DesiredState> state = DesiredState::Parse(*tree, sha);
  if (!state->ok()) {
    return absl::DataLossError(absl::StrCat("serving revision ", sha, " no longer compiles"));
  }
  builder_->SetDesiredState(std::move(state));
  PLUMB_RETURN_IF_ERROR(RestoreRollout(sha));
  absl::StatusOr<v1::Revision> rev = store_->GetRevision(env_, sha);
  if (rev.ok()) {
    absl::MutexLock lock(&mu_);
    serving_fetched_ = absl::FromUnixMillis(rev->fetched_unix_ms());
  }
  absl::MutexLock lock(&sync_mu_);
  last_evaluated_ = sha;
  LogInfo("serving restored revision", {{"rev", sha.substr(0, 12)}});
  return absl::OkStatus();
}

absl::Status RevisionPoller::RestoreRollout(const std::string& sha) {
  if (rollout_ == nullptr) return absl::OkStatus();
  PLUMB_RETURN_IF_ERROR(rollout_->Restore());
  std::set<std::string> needed = rollout_->live_revisions();
  needed.erase(sha);  // the newest: builder_ serves it
  for (const std::string& stable : needed) {
    absl::Status live = live_->Ensure(stable);
    if (!live.ok()) {
      LogError("a revision served besides the newest cannot be loaded; its nodes get none",
               {{"rev", stable.substr(0, 12)}, {"error", live.message()}});
    }
  }
  return absl::OkStatus();
}

void RevisionPoller::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void RevisionPoller::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool RevisionPoller::last_fetch_ok() const {
  absl::MutexLock lock(&mu_);
  return last_fetch_ok_;
}

std::string RevisionPoller::last_fetch_error() const {
  absl::MutexLock lock(&mu_);
  return last_fetch_error_;
}

absl::Time RevisionPoller::serving_fetched() const {
  absl::MutexLock lock(&mu_);
  return serving_fetched_;
}

void RevisionPoller::RequestSync() {
  absl::MutexLock lock(&mu_);
  sync_requested_ = true;
}

void RevisionPoller::Publish(v1::EventKind kind, const std::string& sha,
                             const std::string& message) {
  if (events_ == nullptr) return;
  // With environments, say whose line: "staging: ...".
  events_->Publish(MakeEvent(kind, "", sha, env_.empty() ? message : env_ + ": " + message));
}

void RevisionPoller::Loop() {
  while (true) {
    absl::StatusOr<v1::Revision> rev = SyncNow();
    if (!rev.ok()) LogWarning("repository sync failed", {{"error", rev.status().message()}});
    absl::MutexLock lock(&mu_);
    auto wake = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return stopping_ || sync_requested_;
    };
    // Wait on the mutex (not the clock) so Stop() and RequestSync() wake us at once.
    mu_.AwaitWithTimeout(absl::Condition(&wake), poll_);
    if (stopping_) return;
    sync_requested_ = false;
  }
}

absl::StatusOr<v1::Revision> RevisionPoller::SyncNow() {
  absl::MutexLock sync_lock(&sync_mu_);
  absl::StatusOr<CommitInfo> head = git_->Fetch();
  bool was_ok;
  {
    absl::MutexLock lock(&mu_);
    was_ok = last_fetch_ok_;
    last_fetch_ok_ = head.ok();
    last_fetch_error_ = head.ok() ? "" : std::string(head.status().message());
  }
  if (on_fetch_result_) on_fetch_result_(head.ok());
  if (!head.ok()) {
    // Once per outage, not once per poll.
    if (was_ok) Publish(v1::EVENT_FETCH_FAILED, "", std::string(head.status().message()));
    return head.status();
  }
  if (leadership_ != nullptr && !leadership_->IsLeader()) return Follow();
  if (head->sha == last_evaluated_) return store_->GetRevision(env_, head->sha);
  return Evaluate(*head);
}

absl::StatusOr<v1::Revision> RevisionPoller::Follow() {
  PLUMB_ASSIGN_OR_RETURN(std::string sha, store_->ServingRevision(env_));
  if (sha.empty()) return absl::NotFoundError("no revision is served yet (the leader records it)");
  PLUMB_ASSIGN_OR_RETURN(v1::Revision rev, store_->GetRevision(env_, sha));
  if (sha == last_evaluated_) {
    // The leader started another rollout of the same serving revision (a rollback).
    if (rollout_ != nullptr && rollout_->StoredIsAnother()) {
      PLUMB_RETURN_IF_ERROR(RestoreRollout(sha));
      on_served_();
    }
    return rev;
  }
  if (rollout_ != nullptr) {
    // The leader stores the rollout's header just after the serving revision (its NOTIFY
    // brings this replica back here at once).
    PLUMB_ASSIGN_OR_RETURN(bool ready, rollout_->StoredIsFor(sha, rev.fetched_unix_ms()));
    if (!ready) {
      return absl::UnavailableError(
          absl::StrCat("the leader has not stored the rollout of ", sha.substr(0, 12), " yet"));
    }
  }
  // The mirror was just fetched; a sha the branch no longer reaches fails here and again at
  // the next poll, and this replica keeps serving what it serves.
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<RepoTree> tree, git_->TreeAt(sha));
  std::shared_ptr<const DesiredState> state = DesiredState::Parse(*tree, sha);
  if (!state->ok()) {
    return absl::DataLossError(absl::StrCat("serving revision ", sha, " does not compile here"));
  }
  builder_->SetDesiredState(std::move(state));  // compiled per node on demand, deterministic
  // The leader's rollout as stored with the revision: this replica then writes its agents'
  // outcomes and takes the leader's header on each tick (rollout_replicas.cc).
  PLUMB_RETURN_IF_ERROR(RestoreRollout(sha));
  last_evaluated_ = sha;
  {
    absl::MutexLock lock(&mu_);
    serving_fetched_ = absl::FromUnixMillis(rev.fetched_unix_ms());
  }
  LogInfo("serving the leader's revision", {{"rev", sha.substr(0, 12)}});
  on_served_();
  return rev;
}

bool IsLiveNode(const v1::Node& node, absl::Time now, absl::Duration stale_after) {
  if (node.status() == v1::NODE_REVOKED) return false;
  if (node.connected() || stale_after <= absl::ZeroDuration()) return true;
  return now - absl::FromUnixMillis(node.last_seen_unix_ms()) < stale_after;
}

bool RevisionPoller::Live(const v1::Node& node) const {
  if (envs_ != nullptr && envs_->configured() &&
      envs_->Match({node.labels().begin(), node.labels().end()}) != env_index_) {
    return false;  // another line's node (or none's): this line never serves it
  }
  return IsLiveNode(node, clock_->Now(), stale_after_);
}

absl::Status RevisionPoller::Validate(const DesiredState& state,
                                      absl::flat_hash_map<std::string, NodeCompileResult>* compiled,
                                      std::vector<CompileError>* errors, v1::Revision* rev) {
  PLUMB_ASSIGN_OR_RETURN(std::vector<v1::Node> nodes,
                         store_->ListNodes({}, v1::NODE_STATUS_UNSPECIFIED));
  std::vector<const v1::Node*> live;
  std::vector<NodeInputs> inputs;
  for (const v1::Node& n : nodes) {
    if (!Live(n)) continue;
    live.push_back(&n);
    inputs.push_back({n.name(), {n.labels().begin(), n.labels().end()},
                      {n.facts().begin(), n.facts().end()}});
  }
  // Group keys, then one compile per group not compiled yet, on every core.
  std::vector<std::string> keys(inputs.size());
  ParallelFor(inputs.size(), [&](size_t i) { keys[i] = state.GroupKey(inputs[i]); });
  absl::flat_hash_map<std::string, size_t> first_of_group;  // key -> first node's index
  std::vector<size_t> to_compile;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!first_of_group.emplace(keys[i], i).second) continue;
    if (!compiled->contains(keys[i])) to_compile.push_back(i);
  }
  std::vector<NodeCompileResult> results(to_compile.size());
  ParallelFor(to_compile.size(),
              [&](size_t c) { results[c] = state.CompileNode(inputs[to_compile[c]]); });
  for (size_t c = 0; c < to_compile.size(); ++c) {
    compiled->emplace(keys[to_compile[c]], std::move(results[c]));
  }
  for (size_t i = 0; i < live.size(); ++i) {
    const v1::Node& n = *live[i];
    auto it = compiled->find(keys[i]);
    bool fresh = first_of_group[keys[i]] == i;
    const std::vector<CompileError>& found = it->second.errors;
    bool node_only = std::all_of(found.begin(), found.end(),
                                 [](const CompileError& e) { return e.node_dependent; });
    if (found.empty()) continue;
    if (!node_only) {
      // A repository error shows once per group, named by its first node.
      if (!fresh) continue;
      for (const CompileError& e : found) {
        CompileError named = e;
        named.message = absl::StrCat(e.message, " (node ", n.name(), ")");
        errors->push_back(std::move(named));
      }
      continue;
    }
    if (rev->node_failures_size() >= kMaxRecordedNodeFailures) {
      rev->set_node_failures_omitted(rev->node_failures_omitted() + 1);
      continue;
    }
    v1::NodeFailure* failure = rev->add_node_failures();
    failure->set_node(n.name());
    for (const CompileError& e : found) {
      v1::CompileError* pe = failure->add_errors();
      pe->set_location(e.location);
      pe->set_message(e.message);
    }
  }
  return absl::OkStatus();
}

void RevisionPoller::StartRollout(const v1::Revision& rev,
                                  const std::shared_ptr<const DesiredState>& before) {
  std::string before_sha = before != nullptr ? before->revision() : "";
  std::string stable = rollout_->BaseRevision(before_sha);
  const v1::RolloutPolicy* policy = rev.has_rollout() ? &rev.rollout() : nullptr;
  if (policy != nullptr && !stable.empty()) {
    absl::Status live = live_->Ensure(stable, stable == before_sha ? before : nullptr);
    if (!live.ok()) {
      LogError("rollout: the previous revision cannot be served; serving the new one to all",
               {{"rev", stable.substr(0, 12)}, {"error", live.message()}});
      policy = nullptr;
    }
  }
  stable = rollout_->OnNewRevision(rev.sha(), before_sha, policy);
  std::set<std::string> keep = rollout_->live_revisions();
  keep.erase(rev.sha());  // the newest: builder_ serves it
  live_->Retain(keep);
}

absl::StatusOr<v1::Revision> RevisionPoller::Evaluate(const CommitInfo& commit) {
  absl::Time start = clock_->Now();
  v1::Revision rev;
  rev.set_sha(commit.sha);
  rev.set_environment(env_);
  rev.set_summary(commit.summary);
  rev.set_fetched_unix_ms(absl::ToUnixMillis(start));
  Publish(v1::EVENT_REVISION_FETCHED, commit.sha, commit.summary);
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<RepoTree> tree, git_->TreeAt(commit.sha));
  // The serving revision's renders are reused for resources this commit left alone.
  std::shared_ptr<const DesiredState> previous = builder_->desired_state();
  std::shared_ptr<const DesiredState> state =
      DesiredState::Parse(*tree, commit.sha, previous.get());
  std::vector<CompileError> errors = state->errors();
  // Staged by the rollout controller (StartRollout), when the server enables rollouts.
  if (state->rollout() != nullptr) {
    *rev.mutable_rollout() = RolloutPolicyToProto(*state->rollout());
  }
  absl::flat_hash_map<std::string, NodeCompileResult> compiled;  // by group, handed to builder_
  if (errors.empty()) PLUMB_RETURN_IF_ERROR(Validate(*state, &compiled, &errors, &rev));
  double validated_ms = absl::ToDoubleMilliseconds(clock_->Now() - start);
  if (!errors.empty()) rev.clear_node_failures();
  for (const CompileError& e : errors) {
    v1::CompileError* pe = rev.add_errors();
    pe->set_location(e.location);
    pe->set_message(e.message);
  }
  rev.set_status(errors.empty() ? v1::REVISION_OK : v1::REVISION_FAILED);
  PLUMB_RETURN_IF_ERROR(store_->PutRevision(rev));
  last_evaluated_ = commit.sha;
  double ms = absl::ToDoubleMilliseconds(clock_->Now() - start);
  if (metrics_ != nullptr) metrics_->compile_duration->Observe(ms / 1000);
  if (!errors.empty()) {
    LogWarning("revision failed to compile; not served",
               {{"rev", commit.sha.substr(0, 12)}, {"errors", errors.size()},
                {"first", errors[0].ToString()}});
    Publish(v1::EVENT_REVISION_FAILED, commit.sha,
            absl::StrCat(errors.size(), " error(s); first: ", errors[0].ToString()));
    return rev;
  }
  PLUMB_RETURN_IF_ERROR(store_->SetServingRevision(env_, commit.sha));
  if (rollout_ != nullptr) StartRollout(rev, builder_->desired_state());
  double stored_ms = absl::ToDoubleMilliseconds(clock_->Now() - start);
  builder_->SetDesiredState(std::move(state), std::move(compiled));
  rev.set_serving(true);
  {
    absl::MutexLock lock(&mu_);
    serving_fetched_ = start;
  }
  Publish(v1::EVENT_REVISION_COMPILED, commit.sha,
          absl::StrCat(commit.summary, " (compiled in ", static_cast<int64_t>(ms), " ms)"));
  LogInfo("serving new revision", {{"rev", commit.sha.substr(0, 12)}, {"env", env_},
                                   {"compile_ms", ms},
                                   {"parsed_and_compiled_ms", validated_ms},
                                   {"stored_ms", stored_ms},
                                   {"built_ms", absl::ToDoubleMilliseconds(clock_->Now() - start)},
                                   {"summary", commit.summary},
                                   {"failed_nodes", rev.node_failures_size()}});
  for (int i = 0; i < std::min(rev.node_failures_size(), 10); ++i) {  // the rest: plumbctl
    const v1::NodeFailure& f = rev.node_failures(i);
    LogWarning("revision does not compile for a node; it keeps its last good catalog",
               {{"rev", commit.sha.substr(0, 12)}, {"node", f.node()},
                {"first", absl::StrCat(f.errors(0).location(), ": ", f.errors(0).message())}});
  }
  on_served_();
  return rev;
}

}  // namespace plumb
