#include "server/security/renew_limiter.h"

#include "absl/strings/str_cat.h"

namespace plumb {

absl::Status RenewLimiter::Admit(const std::string& node) {
  absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  auto it = last_.find(node);
  if (it != last_.end() && now - it->second < interval_) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "node \"", node, "\" renewed less than ", absl::FormatDuration(interval_),
        " ago; try again in ", absl::FormatDuration(absl::Ceil(it->second + interval_ - now,
                                                               absl::Seconds(1)))));
  }
  last_[node] = now;
  if (last_.size() >= prune_at_) {
    for (auto i = last_.begin(); i != last_.end();) {
      i = now - i->second >= interval_ ? last_.erase(i) : std::next(i);
    }
    prune_at_ = std::max<size_t>(1024, 2 * last_.size());
  }
  return absl::OkStatus();
}

}  // namespace plumb
