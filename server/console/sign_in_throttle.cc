#include "server/console/sign_in_throttle.h"

#include <algorithm>
#include <vector>

namespace plumb {

std::string SignInThrottle::Address(const std::string& peer) {
  if (!peer.empty() && peer.front() == '[') {
    size_t close = peer.find(']');
    return close == std::string::npos ? peer : peer.substr(1, close - 1);
  }
  size_t colon = peer.rfind(':');
  // More than one colon without brackets: an IPv6 address without a port.
  if (colon == std::string::npos || peer.find(':') != colon) return peer;
  return peer.substr(0, colon);
}

absl::Duration SignInThrottle::Wait(const std::string& peer) {
  absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(Address(peer));
  if (it == entries_.end() || it->second.failures < kMaxFailures) return absl::ZeroDuration();
  absl::Time until = it->second.last_failure + kLockout;
  return until > now ? until - now : absl::ZeroDuration();
}

void SignInThrottle::Failed(const std::string& peer) {
  absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  Entry& e = entries_[Address(peer)];
  // A failure long after the previous one, or after a lockout ran out, starts a new count.
  if (e.failures > 0 && (now - e.last_failure > kWindow ||
                         (e.failures >= kMaxFailures && now - e.last_failure >= kLockout))) {
    e.failures = 0;
  }
  ++e.failures;
  e.last_failure = now;
  if (entries_.size() > kMaxAddresses) Prune(now);
}

void SignInThrottle::Succeeded(const std::string& peer) {
  absl::MutexLock lock(&mu_);
  entries_.erase(Address(peer));
}

void SignInThrottle::Prune(absl::Time now) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = now - it->second.last_failure > kWindow ? entries_.erase(it) : std::next(it);
  }
  if (entries_.size() <= kMaxAddresses) return;
  // Still too many recent ones: forget the stalest half.
  std::vector<absl::Time> times;
  times.reserve(entries_.size());
  for (const auto& [address, e] : entries_) times.push_back(e.last_failure);
  auto mid = times.begin() + times.size() / 2;
  std::nth_element(times.begin(), mid, times.end());
  absl::Time cut = *mid;
  for (auto it = entries_.begin(); it != entries_.end();) {
    it = it->second.last_failure < cut ? entries_.erase(it) : std::next(it);
  }
}

}  // namespace plumb
