#include "server/security/identity_poller.h"

#include "common/logging.h"

namespace plumb {

IdentityPoller::IdentityPoller(IdentityStore* identities, Clock* clock,
                               IdentityPollerCallbacks callbacks, absl::Duration interval)
    : identities_(identities),
      clock_(clock),
      callbacks_(std::move(callbacks)),
      interval_(interval) {}

IdentityPoller::~IdentityPoller() { Stop(); }

absl::Status IdentityPoller::PollOnce() {
  absl::StatusOr<IdentityChanges> changes = identities_->Refresh();
  if (!changes.ok()) return changes.status();
  for (const std::string& node : changes->revoked) {
    LogInfo("node revoked through another server", {{"node", node}});
    if (callbacks_.on_revoked) callbacks_.on_revoked(node);
  }
  for (const std::string& node : changes->enrolled) {
    if (callbacks_.on_enrolled) callbacks_.on_enrolled(node);
  }
  if (changes->operators_revoked && callbacks_.on_operators_revoked) {
    callbacks_.on_operators_revoked();
  }
  return absl::OkStatus();
}

void IdentityPoller::Start() {
  absl::MutexLock lock(&mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void IdentityPoller::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void IdentityPoller::Loop() {
  bool failing = false;
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
      clock_->AwaitWithTimeout(&mu_, absl::Condition(&stopping), interval_);
      if (stopping_) return;
    }
    absl::Status polled = PollOnce();
    // Logged once per outage, not every second.
    if (!polled.ok() && !failing) {
      LogWarning("cannot read enrolled identities from the database; retrying every second",
                 {{"error", polled.message()}});
    } else if (polled.ok() && failing) {
      LogInfo("reading enrolled identities from the database again");
    }
    failing = !polled.ok();
  }
}

}  // namespace plumb
