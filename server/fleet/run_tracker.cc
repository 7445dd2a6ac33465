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
  std::function<void(const std::string&, const v1::ReportSummary&)> forward;
  {
    absl::MutexLock lock(&mu_);
    auto it = pending_.find(request_id);
    if (it != pending_.end()) {
      it->second.reports[summary.node()] = summary;
      return;
    }
    if (!remote_.count(request_id)) return;
    forward = forward_;
  }
  if (forward) forward(request_id, summary);
}

void RunTracker::DeliverForwarded(const std::string& request_id,
                                  const v1::ReportSummary& summary) {
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(request_id);
  if (it != pending_.end()) it->second.reports[summary.node()] = summary;
}

void RunTracker::ExpectAnswers(const std::string& request_id, int replicas) {
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(request_id);
  if (it != pending_.end()) it->second.answers_expected += replicas;
}

void RunTracker::Answer(const std::string& request_id, const std::vector<std::string>& nodes) {
  absl::MutexLock lock(&mu_);
  auto it = pending_.find(request_id);
  if (it == pending_.end()) return;
  it->second.asked.insert(nodes.begin(), nodes.end());
  ++it->second.answers;
}

std::vector<std::string> RunTracker::WaitAsked(const std::string& request_id,
                                               absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto answered = [this, &request_id]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto it = pending_.find(request_id);
    return it == pending_.end() ||
           (it->second.asked_known && it->second.answers >= it->second.answers_expected);
  };
  mu_.AwaitWithTimeout(absl::Condition(&answered), timeout);
  auto it = pending_.find(request_id);
  if (it == pending_.end()) return {};
  return {it->second.asked.begin(), it->second.asked.end()};
}

void RunTracker::TrackRemote(const std::string& request_id) {
  absl::MutexLock lock(&mu_);
  if (!remote_.insert(request_id).second) return;
  remote_order_.push_back(request_id);
  if (remote_order_.size() > kMaxRemote) {
    remote_.erase(remote_order_.front());
    remote_order_.pop_front();
  }
}

void RunTracker::set_forward(
    std::function<void(const std::string&, const v1::ReportSummary&)> forward) {
  absl::MutexLock lock(&mu_);
  forward_ = std::move(forward);
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
