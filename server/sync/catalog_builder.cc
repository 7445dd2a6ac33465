#include "server/sync/catalog_builder.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace plumb {

namespace {

// What a cached group costs: its catalog, the blobs it names (a blob shared by groups is
// counted in each: an overestimate, which is the safe side) and its errors.
size_t GroupBytes(const std::string& key, const NodeCompileResult& result) {
  size_t bytes = key.size() + 256;  // map, list and shared_ptr overhead, roughly
  if (result.catalog != nullptr) bytes += result.catalog->ByteSizeLong();
  for (const auto& [digest, content] : result.blobs) bytes += digest.size() + content->size();
  for (const CompileError& e : result.errors) bytes += e.location.size() + e.message.size();
  return bytes;
}

}  // namespace

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
  by_group_.clear();
  lru_.clear();
  cached_bytes_ = 0;
  previous_blobs_ = std::move(blobs_);
  blobs_.clear();
  for (auto& [key, result] : compiled) Insert(key, std::move(result));
}

const NodeCompileResult& CatalogBuilder::Insert(const std::string& key, NodeCompileResult result) {
  auto [it, inserted] = by_group_.try_emplace(key);
  Group& group = it->second;
  if (!inserted) {
    // Two threads racing on one group compile twice and keep the first; both results are
    // identical by GroupKey's contract.
    lru_.splice(lru_.begin(), lru_, group.lru);
    return group.result;
  }
  group.bytes = GroupBytes(key, result);
  group.result = std::move(result);
  lru_.push_front(key);
  group.lru = lru_.begin();
  cached_bytes_ += group.bytes;
  if (group.result.ok()) {
    for (const auto& [digest, content] : group.result.blobs) {
      SharedBlob& blob = blobs_[digest];
      blob.content = content;
      ++blob.refs;
    }
  }
  Evict();
  return group.result;  // never evicted itself: Evict keeps the most recent group
}

void CatalogBuilder::Evict() {
  while (cached_bytes_ > max_cache_bytes_ && lru_.size() > 1) {
    auto it = by_group_.find(lru_.back());
    Group& group = it->second;
    if (group.result.ok()) {
      for (const auto& [digest, content] : group.result.blobs) {
        auto blob = blobs_.find(digest);
        if (blob != blobs_.end() && --blob->second.refs == 0) {
          evicted_blobs_[digest] = blob->second.content;
          blobs_.erase(blob);
        }
      }
    }
    cached_bytes_ -= group.bytes;
    lru_.pop_back();
    by_group_.erase(it);
  }
  if (evicted_blobs_.size() > 2 * blobs_.size() + 1024) {
    for (auto it = evicted_blobs_.begin(); it != evicted_blobs_.end();) {
      it = it->second.expired() ? evicted_blobs_.erase(it) : std::next(it);
    }
  }
}

std::vector<std::shared_ptr<const std::string>> CatalogBuilder::PinBlobs(
    const v1::Catalog& catalog) const {
  std::vector<std::shared_ptr<const std::string>> pinned;
  for (const v1::Resource& r : catalog.resources()) {
    if (r.content_digest().empty()) continue;
    auto blob = Blob(r.content_digest());
    if (blob.ok()) pinned.push_back(*std::move(blob));
  }
  return pinned;
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
      lru_.splice(lru_.begin(), lru_, it->second.lru);
      const NodeCompileResult& cached = it->second.result;
      if (!cached.ok()) return absl::InvalidArgumentError(JoinCompileErrors(cached.errors));
      return cached.catalog;
    }
  }
  // Compile outside the lock: other groups proceed meanwhile.
  NodeCompileResult result = state->CompileNode(node);
  absl::MutexLock lock(&mu_);
  if (state_ != state) return absl::UnavailableError("serving revision changed during compile");
  const NodeCompileResult& cached = Insert(key, std::move(result));
  if (!cached.ok()) return absl::InvalidArgumentError(JoinCompileErrors(cached.errors));
  return cached.catalog;
}

absl::StatusOr<std::shared_ptr<const std::string>> CatalogBuilder::Blob(
    const std::string& digest) const {
  absl::MutexLock lock(&mu_);
  auto it = blobs_.find(digest);
  if (it != blobs_.end()) return it->second.content;
  it = previous_blobs_.find(digest);
  if (it != previous_blobs_.end()) return it->second.content;
  auto evicted = evicted_blobs_.find(digest);
  if (evicted != evicted_blobs_.end()) {
    if (std::shared_ptr<const std::string> content = evicted->second.lock()) return content;
  }
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

size_t CatalogBuilder::cached_bytes() const {
  absl::MutexLock lock(&mu_);
  return cached_bytes_;
}

}  // namespace plumb
