#include "server/rollout/live_revisions.h"

#include "absl/strings/str_cat.h"
#include "common/logging.h"

namespace plumb {

LiveRevisions::LiveRevisions(CatalogBuilder* newest, Loader load)
    : newest_(newest), load_(std::move(load)) {}

absl::Status LiveRevisions::Ensure(const std::string& sha,
                                   std::shared_ptr<const DesiredState> state) {
  {
    absl::MutexLock lock(&mu_);
    if (by_sha_.count(sha) > 0) return absl::OkStatus();
  }
  if (state == nullptr) {
    std::shared_ptr<const DesiredState> newest = newest_->desired_state();
    if (newest != nullptr && newest->revision() == sha) state = newest;
  }
  if (state == nullptr) {
    if (!load_) return absl::FailedPreconditionError("no way to load revisions");
    absl::StatusOr<std::shared_ptr<const DesiredState>> loaded = load_(sha);
    if (!loaded.ok()) return loaded.status();
    state = std::move(*loaded);
  }
  if (!state->ok()) {
    return absl::FailedPreconditionError(absl::StrCat("revision ", sha, " does not compile"));
  }
  auto builder = std::make_shared<CatalogBuilder>();
  builder->SetDesiredState(std::move(state));
  LogInfo("revision live besides the newest", {{"rev", sha.substr(0, 12)}});
  absl::MutexLock lock(&mu_);
  by_sha_.emplace(sha, std::move(builder));
  ++changes_;
  return absl::OkStatus();
}

void LiveRevisions::Retain(const std::set<std::string>& keep) {
  absl::MutexLock lock(&mu_);
  for (auto it = by_sha_.begin(); it != by_sha_.end();) {
    if (keep.count(it->first) > 0) {
      ++it;
      continue;
    }
    it = by_sha_.erase(it);
    ++changes_;
  }
}

std::shared_ptr<CatalogBuilder> LiveRevisions::BuilderFor(const std::string& sha) const {
  std::shared_ptr<const DesiredState> newest = newest_->desired_state();
  if (sha.empty() || (newest != nullptr && newest->revision() == sha)) {
    // Not owned: the newest builder outlives this object.
    return std::shared_ptr<CatalogBuilder>(std::shared_ptr<CatalogBuilder>(), newest_);
  }
  absl::MutexLock lock(&mu_);
  auto it = by_sha_.find(sha);
  return it == by_sha_.end() ? nullptr : it->second;
}

absl::StatusOr<std::shared_ptr<const std::string>> LiveRevisions::Blob(
    const std::string& digest) const {
  absl::StatusOr<std::shared_ptr<const std::string>> blob = newest_->Blob(digest);
  if (blob.ok()) return blob;
  absl::MutexLock lock(&mu_);
  for (const auto& [sha, builder] : by_sha_) {
    auto found = builder->Blob(digest);
    if (found.ok()) return found;
  }
  return blob.status();
}

uint64_t LiveRevisions::generation() const {
  // Live builders never change after Ensure: only the set of them does.
  absl::MutexLock lock(&mu_);
  return (newest_->generation() << 32) + changes_;
}

}  // namespace plumb
