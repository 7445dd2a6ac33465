#include "server/fleet/run_tracker.h"

#include "absl/random/random.h"
#include "absl/strings/str_format.h"

namespace plumb {

std::string RunTracker::Begin() {
  absl::BitGen gen;
  absl::MutexLock lock(&mu_);
  std::string id = absl::StrFormat("run-%d-%08x", next_++, absl::Uniform<uint32_t>(gen));
  pending_[id];
  return id;
}

void RunTracker::SetAsked(const std::string& request_id, const std::vector<std::string>& nodes) {
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(request_id);
  if (it == pending_.end()) return;
  it->second.asked_known = true;
  it->second.asked.insert(nodes.begin(), nodes.end());
}

void RunTracker::Deliver(const std::string& request_id, const v1::ReportSummary& summary) {
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(request_id);
  if (it == pending_.end()) return;
  it->second.reports[summary.node()] = summary;
}

std::map<std::string, v1::ReportSummary> RunTracker::Wait(const std::string& request_id,
                                                          absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [this, &request_id]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = pending_.find(request_id);
    if (it == pending_.end()) return true;
    const Pending& p = it->second;
    if (!p.asked_known) return false;
    for (const std::string& n : p.asked) {
      if (!p.reports.count(n)) return false;
    }
    return true;
  };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  std::map<std::string, v1::ReportSummary> out;
  auto it = pending_.find(request_id);
  if (it != pending_.end()) {
    out = std::move(it->second.reports);
    pending_.erase(it);
  }
  return out;
}

void RunTracker::End(const std::string& request_id) {
  absl::MutexLock lock(&mu_);
  pending_.erase(request_id);
}

}  // namespace plumb
