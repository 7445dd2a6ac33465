#include "server/sync/catalog_builder.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace plumb {

std::string JoinCompileErrors(const std::vector<CompileError>& errors) {
  std::vector<std::string> lines;
  for (const CompileError& e : errors) lines.push_back(e.ToString());
  return absl::StrJoin(lines, "\n");
}

void CatalogBuilder::SetDesiredState(std::shared_ptr<const DesiredState> state,
                                     absl::flat_hash_map<std::string, NodeCompileResult> compiled) {
  absl::MutexLock lock(&mu_);
  state_ = std::move(state);
  ++generation_;
  by_group_ = std::move(compiled);
  previous_blobs_ = std::move(blobs_);
  blobs_.clear();
  for (const auto& [key, result] : by_group_) {
    if (!result.ok()) continue;
    for (const auto& [digest, content] : result.blobs) blobs_.emplace(digest, content);
  }
}

std::shared_ptr<const DesiredState> CatalogBuilder::desired_state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

absl::StatusOr<std::shared_ptr<const v1::Catalog>> CatalogBuilder::Build(const NodeInputs& node) {
  std::shared_ptr<const DesiredState> state;
  std::string key;
  {
    absl::MutexLock lock(&mu_);
    if (state_ == nullptr) return absl::FailedPreconditionError("no revision is being served yet");
    state = state_;
    key = state->GroupKey(node);
    auto it = by_group_.find(key);
    if (it != by_group_.end()) {
      if (!it->second.ok()) return absl::InvalidArgumentError(JoinCompileErrors(it->second.errors));
      return it->second.catalog;
    }
  }
  // Compile outside the lock: other groups proceed meanwhile. Two threads racing on the same
  // group compile twice and keep the first; both results are identical by GroupKey's contract.
  NodeCompileResult result = state->CompileNode(node);
  absl::MutexLock lock(&mu_);
  if (state_ != state) return absl::UnavailableError("serving revision changed during compile");
  auto [it, inserted] = by_group_.emplace(key, std::move(result));
  if (inserted && it->second.ok()) {
    for (const auto& [digest, content] : it->second.blobs) blobs_.emplace(digest, content);
  }
  if (!it->second.ok()) return absl::InvalidArgumentError(JoinCompileErrors(it->second.errors));
  return it->second.catalog;
}

absl::StatusOr<std::shared_ptr<const std::string>> CatalogBuilder::Blob(
    const std::string& digest) const {
  absl::MutexLock lock(&mu_);
  auto it = blobs_.find(digest);
  if (it != blobs_.end()) return it->second;
  it = previous_blobs_.find(digest);
  if (it != previous_blobs_.end()) return it->second;
  return absl::NotFoundError(absl::StrCat("no blob ", digest));
}

uint64_t CatalogBuilder::generation() const {
  absl::MutexLock lock(&mu_);
  return generation_;
}

int CatalogBuilder::compiled_groups() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(by_group_.size());
}

}  // namespace plumb
