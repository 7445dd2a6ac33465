#include "agent/engine/apply_engine.h"

#include <map>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/engine/enum_names.h"
#include "agent/host/command_runner.h"
#include "agent/providers/directory_provider.h"
#include "agent/providers/exec_provider.h"
#include "agent/providers/file_provider.h"
#include "agent/host/filesystem.h"
#include "agent/providers/package_provider.h"
#include "agent/providers/provider.h"
#include "agent/engine/resource_graph.h"
#include "agent/providers/service_provider.h"
#include "agent/providers/symlink_provider.h"
#include "agent/providers/user_provider.h"
#include "common/logging.h"

namespace plumb {

// The engine's collaborators, its providers by resource type, and the state of the current run.
struct ApplyEngine::Impl {
  Impl(Filesystem* filesystem, std::string root_path, BlobSource* blob_source,
       CommandRunner* command_runner, Clock* run_clock)
      : fs(filesystem),
        root(std::move(root_path)),
        blobs(blob_source),
        runner(command_runner),
        clock(run_clock) {
    providers["file"] = std::make_unique<FileProvider>(fs, blobs);
    providers["directory"] = std::make_unique<DirectoryProvider>(fs);
    providers["symlink"] = std::make_unique<SymlinkProvider>(fs);
    if (runner != nullptr) {
      providers["exec"] = std::make_unique<ExecProvider>(fs, runner, root);
      providers["package"] = std::make_unique<PackageProvider>(runner);
      providers["service"] = std::make_unique<ServiceProvider>(runner);
      providers["user"] = std::make_unique<UserProvider>(runner);
      providers["group"] = std::make_unique<GroupProvider>(runner);
    }
  }

  v1::ResourceResult ApplyOne(int index, const v1::Catalog& catalog, bool noop);
  // Whether the staged writes must be in place before resource `index` runs: it is not a
  // file, directory or symlink (an exec or a service may read any file), or it depends on or
  // is notified by a resource whose write is staged.
  bool NeedsCommit(int index, const v1::Catalog& catalog) const;
  // Commits the staged writes; a file that could not be put in place becomes FAILED (so its
  // dependents are skipped) and keeps its old content. Starts a new batch if `more`.
  void CommitStaged(const v1::Catalog& catalog, v1::Report* report, bool more);
  v1::ResourceResult ApplyChecked(const v1::Resource& resource, Provider* provider,
                                  const std::vector<std::string>& notified_by, bool noop);

  Filesystem* const fs;
  const std::string root;
  BlobSource* const blobs;
  CommandRunner* const runner;
  Clock* const clock;
  std::map<std::string, std::unique_ptr<Provider>> providers;

  // Per run.
  const ResourceGraph* graph = nullptr;
  std::vector<v1::ResourceOutcome> outcomes;
  std::vector<std::string> failed_cause;  // for a failed or skipped resource: the failed id
  // Files written in the open batch, not in place yet: path -> resource index.
  std::map<std::string, int> staged;
  std::vector<bool> is_staged;   // by resource index
  std::vector<int> result_of;    // by resource index: position of its result in the report
};

namespace {

v1::ResourceResult Result(const std::string& id, v1::ResourceOutcome outcome, std::string message) {
  v1::ResourceResult result;
  result.set_id(id);
  result.set_outcome(outcome);
  result.set_message(std::move(message));
  return result;
}

std::string NotifiedBy(const std::vector<std::string>& ids) {
  return absl::StrCat("notified by ", absl::StrJoin(ids, ", "));
}

}  // namespace

v1::ResourceResult ApplyEngine::Impl::ApplyOne(int index, const v1::Catalog& catalog, bool noop) {
  const v1::Resource& resource = catalog.resources(index);
  const std::string& id = resource.id();
  if (!graph->error(index).empty()) {
    failed_cause[index] = id;
    return Result(id, v1::FAILED, graph->error(index));
  }
  for (int dep : graph->dependencies(index)) {
    const std::string& dep_id = catalog.resources(dep).id();
    if (outcomes[dep] == v1::FAILED) {
      failed_cause[index] = dep_id;
      return Result(id, v1::SKIPPED, absl::StrCat("skipped: dependency ", dep_id, " failed"));
    }
    if (outcomes[dep] == v1::SKIPPED) {
      failed_cause[index] = failed_cause[dep];
      return Result(id, v1::SKIPPED,
                    absl::StrCat("skipped: dependency ", dep_id, " was skipped because ",
                                 failed_cause[dep], " failed"));
    }
  }
  auto provider = providers.find(resource.type());
  if (provider == providers.end()) {
    failed_cause[index] = id;
    if (runner == nullptr && resource.type() != "file" && resource.type() != "directory" &&
        resource.type() != "symlink") {
      return Result(id, v1::FAILED,
                    absl::StrCat("resource type \"", resource.type(),
                                 "\" needs a command runner, and the agent has none"));
    }
    return Result(id, v1::FAILED, absl::StrCat("unknown resource type \"", resource.type(), "\""));
  }
  std::vector<std::string> notified_by;
  for (int source : graph->notifiers(index)) {
    if (outcomes[source] == v1::CHANGED || outcomes[source] == v1::WOULD_CHANGE) {
      notified_by.push_back(catalog.resources(source).id());
    }
  }
  v1::ResourceResult result = ApplyChecked(resource, provider->second.get(), notified_by, noop);
  if (result.outcome() == v1::FAILED) failed_cause[index] = id;
  if (resource.sensitive()) result.clear_diff();
  return result;
}

v1::ResourceResult ApplyEngine::Impl::ApplyChecked(const v1::Resource& resource, Provider* provider,
                                                   const std::vector<std::string>& notified_by,
                                                   bool noop) {
  const std::string& id = resource.id();
  const bool refresh = !notified_by.empty() && provider->CanRefresh(resource);
  absl::StatusOr<CheckResult> check = provider->Check(resource);
  if (!check.ok()) return Result(id, v1::FAILED, std::string(check.status().message()));

  if (noop) {
    if (check->in_sync && !refresh) return Result(id, v1::UNCHANGED, check->message);
    std::vector<std::string> parts;
    if (!check->in_sync) parts.push_back(check->message);
    if (refresh && (check->in_sync || !check->apply_refreshes)) {
      parts.push_back(absl::StrCat("would refresh (", NotifiedBy(notified_by), ")"));
    }
    v1::ResourceResult result = Result(id, v1::WOULD_CHANGE, absl::StrJoin(parts, "; "));
    if (!check->in_sync) result.set_diff(check->diff);
    return result;
  }

  std::vector<std::string> parts;
  bool changed = false;
  bool created = false;
  std::string diff;
  if (!check->in_sync) {
    absl::StatusOr<ChangeResult> applied = provider->Apply(resource, *check);
    if (!applied.ok()) return Result(id, v1::FAILED, std::string(applied.status().message()));
    if (applied->changed) {
      changed = true;
      created = applied->created;
      diff = check->diff;
      parts.push_back(applied->message.empty() ? check->message : applied->message);
    }
  }
  if (refresh && !(changed && check->apply_refreshes)) {
    absl::StatusOr<ChangeResult> refreshed = provider->Refresh(resource);
    if (!refreshed.ok()) {
      parts.push_back(absl::StrCat("refresh (", NotifiedBy(notified_by),
                                   ") failed: ", refreshed.status().message()));
      return Result(id, v1::FAILED, absl::StrJoin(parts, "; "));
    }
    if (refreshed->changed) changed = true;
    if (!refreshed->message.empty()) {
      parts.push_back(absl::StrCat(refreshed->message, " (", NotifiedBy(notified_by), ")"));
    }
  }
  v1::ResourceResult result =
      Result(id, changed ? v1::CHANGED : v1::UNCHANGED, absl::StrJoin(parts, "; "));
  result.set_diff(diff);
  result.set_created(created);
  return result;
}

bool ApplyEngine::Impl::NeedsCommit(int index, const v1::Catalog& catalog) const {
  if (staged.empty()) return false;
  const std::string& type = catalog.resources(index).type();
  if (type != "file" && type != "directory" && type != "symlink") return true;
  for (int dep : graph->dependencies(index)) {
    if (is_staged[dep]) return true;
  }
  for (int source : graph->notifiers(index)) {
    if (is_staged[source]) return true;
  }
  return false;
}

void ApplyEngine::Impl::CommitStaged(const v1::Catalog& catalog, v1::Report* report, bool more) {
  for (const BatchFailure& failure : fs->CommitBatch()) {
    auto it = staged.find(failure.path);
    if (it == staged.end()) continue;  // written by no file resource of this run
    const int index = it->second;
    v1::ResourceResult* result = report->mutable_results(result_of[index]);
    result->set_outcome(v1::FAILED);
    result->set_message(absl::StrCat("new content written but not put in place: ",
                                     failure.status.message()));
    result->set_created(false);
    result->clear_diff();
    outcomes[index] = v1::FAILED;
    failed_cause[index] = catalog.resources(index).id();
    Log(LogLevel::kWarning, "resource",
        {{"id", result->id()}, {"outcome", "FAILED"}, {"message", result->message()}});
  }
  for (const auto& [path, index] : staged) is_staged[index] = false;
  staged.clear();
  if (more) fs->BeginBatch();
}

ApplyEngine::ApplyEngine(Filesystem* fs, std::string root, BlobSource* blobs,
                         CommandRunner* runner, Clock* clock)
    : impl_(std::make_unique<Impl>(fs, std::move(root), blobs, runner, clock)) {}

ApplyEngine::~ApplyEngine() = default;

v1::Report ApplyEngine::Run(const v1::Catalog& catalog, const RunOptions& options) {
  v1::Report report;
  report.set_revision(catalog.revision());
  report.set_catalog_digest(catalog.digest());
  report.set_trigger(options.trigger);
  report.set_noop(options.noop);
  const absl::Time started = impl_->clock->Now();
  report.set_started_unix_ms(absl::ToUnixMillis(started));

  ResourceGraph graph(catalog);
  impl_->graph = &graph;
  impl_->outcomes.assign(catalog.resources_size(), v1::RESOURCE_OUTCOME_UNSPECIFIED);
  impl_->failed_cause.assign(catalog.resources_size(), "");
  impl_->is_staged.assign(catalog.resources_size(), false);
  impl_->result_of.assign(catalog.resources_size(), -1);
  // Files are written in batches, made durable together (see Filesystem::BeginBatch).
  if (!options.noop) impl_->fs->BeginBatch();
  for (int index : graph.order()) {
    if (impl_->NeedsCommit(index, catalog)) impl_->CommitStaged(catalog, &report, true);
    const absl::Time t0 = impl_->clock->Now();
    v1::ResourceResult result = impl_->ApplyOne(index, catalog, options.noop);
    result.set_duration_us(absl::ToInt64Microseconds(impl_->clock->Now() - t0));
    impl_->outcomes[index] = result.outcome();
    if (result.outcome() == v1::CHANGED) {
      for (auto& [type, provider] : impl_->providers) {
        provider->ObserveChange(catalog.resources(index));
      }
    }
    if (result.outcome() != v1::UNCHANGED) {
      // Messages never carry file content; diffs (which may) stay out of the log.
      Log(result.outcome() == v1::FAILED ? LogLevel::kWarning : LogLevel::kInfo, "resource",
          {{"id", result.id()},
           {"outcome", ResourceOutcomeName(result.outcome())},
           {"message", result.message()}});
    }
    const v1::Resource& resource = catalog.resources(index);
    if (!options.noop && result.outcome() == v1::CHANGED && resource.type() == "file") {
      impl_->staged[resource.name()] = index;
      impl_->is_staged[index] = true;
    }
    impl_->result_of[index] = report.results_size();
    *report.add_results() = std::move(result);
  }
  // Nothing is reported before every write is durable and in place.
  if (!options.noop) impl_->CommitStaged(catalog, &report, false);
  impl_->graph = nullptr;
  report.set_duration_us(absl::ToInt64Microseconds(impl_->clock->Now() - started));
  return report;
}

}  // namespace plumb
