#include "server/sync/noop_requests.h"

#include <set>

#include "absl/random/random.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace plumb {

int ScrubNoopReport(const v1::Catalog& catalog, v1::Report* report) {
  std::set<std::string> shown;
  for (const v1::Resource& r : catalog.resources()) {
    if (!r.sensitive()) shown.insert(r.id());
  }
  int cleared = 0;
  for (v1::ResourceResult& result : *report->mutable_results()) {
    if (!result.diff().empty() && shown.count(result.id()) == 0) {
      result.clear_diff();
      ++cleared;
    }
  }
  return cleared;
}

absl::StatusOr<std::string> NoopRequests::Start(
    const std::string& node, std::shared_ptr<const v1::Catalog> catalog,
    std::map<std::string, std::shared_ptr<const std::string>> blobs) {
  absl::BitGen gen;
  absl::MutexLock lock(&mu_);
  if (id_by_node_.count(node) > 0) {
    return absl::FailedPreconditionError(
        "another noop sample is outstanding on this node (one at a time per agent)");
  }
  if (static_cast<int>(by_id_.size()) >= kMaxOutstanding) {
    return absl::ResourceExhaustedError(absl::StrCat(
        kMaxOutstanding, " noop samples are outstanding on the fleet; try again later"));
  }
  std::string id = absl::StrFormat("noop-%d-%016x", ++next_, absl::Uniform<uint64_t>(gen));
  Request& r = by_id_[id];
  r.node = node;
  r.catalog = std::move(catalog);
  r.blobs = std::move(blobs);
  id_by_node_[node] = id;
  return id;
}

std::shared_ptr<const std::string> NoopRequests::Blob(const std::optional<std::string>& node,
                                                      const std::string& digest) const {
  absl::MutexLock lock(&mu_);
  if (node.has_value()) {
    auto id = id_by_node_.find(*node);
    if (id == id_by_node_.end()) return nullptr;
    const Request& r = by_id_.at(id->second);
    auto it = r.blobs.find(digest);
    return it == r.blobs.end() ? nullptr : it->second;
  }
  for (const auto& [id, r] : by_id_) {
    auto it = r.blobs.find(digest);
    if (it != r.blobs.end()) return it->second;
  }
  return nullptr;
}

bool NoopRequests::Answer(const std::string& node, v1::NoopResult result) {
  absl::MutexLock lock(&mu_);
  auto id = id_by_node_.find(node);
  if (id == id_by_node_.end() || id->second != result.request_id()) return false;
  Request& r = by_id_.at(id->second);
  if (r.done) return false;
  r.done = true;
  r.outcome.answered = true;
  r.outcome.error = std::move(*result.mutable_error());
  r.outcome.report = std::move(*result.mutable_report());
  r.outcome.report.set_node(node);  // the stream's node, never what the message claims
  ScrubNoopReport(*r.catalog, &r.outcome.report);
  return true;
}

void NoopRequests::Fail(const std::string& request_id, const std::string& error) {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(request_id);
  if (it == by_id_.end() || it->second.done) return;
  it->second.done = true;
  it->second.outcome.error = error;
}

void NoopRequests::FailNode(const std::string& node, const std::string& error) {
  std::string id;
  {
    absl::MutexLock lock(&mu_);
    auto it = id_by_node_.find(node);
    if (it == id_by_node_.end()) return;
    id = it->second;
  }
  Fail(id, error);
}

NoopOutcome NoopRequests::Wait(const std::string& request_id, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto it = by_id_.find(request_id);
  if (it == by_id_.end()) return NoopOutcome{false, "unknown noop request", {}};
  const Request* r = &it->second;
  auto done = [r]() { return r->done; };
  absl::Duration left = deadline - clock_->Now();
  if (!r->done && left > absl::ZeroDuration()) {
    clock_->AwaitWithTimeout(&mu_, absl::Condition(&done), left);
  }
  NoopOutcome outcome = std::move(it->second.outcome);
  id_by_node_.erase(it->second.node);
  by_id_.erase(it);
  return outcome;
}

int NoopRequests::outstanding() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(by_id_.size());
}

}  // namespace plumb
