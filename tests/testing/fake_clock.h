#pragma once

// A Clock that moves only when told, for tests where time matters (retention, timestamps,
// the agent's interval, heartbeat and reconnect backoff).

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace plumb::testing {

// Thread-safe. Timed waits (Clock::AwaitWithTimeout) block until their condition holds or
// Advance() moves time past their deadline; a test sees which waits are pending (and for how
// long each asked to wait) with PendingWaits() and AwaitPendingWait().
class ManualClock : public Clock {
 public:
  explicit ManualClock(absl::Time now = absl::FromUnixSeconds(1700000000)) : now_(now) {}

  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }

  // Releases `mu` around registering the wait (and unregistering it), as a condition wait
  // may: a waiter never holds `mu` while it takes a lock of this clock's, so Advance can wake
  // it without a lock-order cycle.
  bool AwaitWithTimeout(absl::Mutex* mu, const absl::Condition& cond, absl::Duration timeout)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) ABSL_NO_THREAD_SAFETY_ANALYSIS override {
    if (cond.Eval()) return true;
    auto waiter = std::make_shared<Waiter>();
    waiter->mu = mu;
    waiter->timeout = timeout;
    mu->Unlock();
    {
      absl::MutexLock lock(&mu_);
      waiter->deadline = now_ + timeout;
      waiters_.push_back(waiter);
    }
    mu->Lock();
    auto done = [&]() { return cond.Eval() || Now() >= waiter->deadline; };
    mu->Await(absl::Condition(&done));
    mu->Unlock();
    {
      absl::MutexLock lock(&mu_);
      waiters_.erase(std::find(waiters_.begin(), waiters_.end(), waiter));
    }
    {
      absl::MutexLock lock(&waiter->ping_mu);
      waiter->gone = true;
    }
    mu->Lock();
    return cond.Eval();
  }

  // Moves time forward and wakes every wait whose deadline it reaches.
  void Advance(absl::Duration d) {
    std::vector<std::shared_ptr<Waiter>> due;
    {
      absl::MutexLock lock(&mu_);
      now_ += d;
      for (const auto& w : waiters_) {
        if (w->deadline <= now_) due.push_back(w);
      }
    }
    // Releasing a waiter's mutex makes absl re-evaluate its condition, which reads Now().
    for (const auto& w : due) {
      absl::MutexLock lock(&w->ping_mu);
      if (w->gone) continue;
      w->mu->Lock();
      w->mu->Unlock();
    }
  }

  // The timeouts of the waits blocked now and not yet due, oldest first.
  std::vector<absl::Duration> PendingWaits() {
    absl::MutexLock lock(&mu_);
    std::vector<absl::Duration> out;
    for (const auto& w : waiters_) {
      if (w->deadline > now_) out.push_back(w->timeout);
    }
    return out;
  }

  // Blocks for at most `real_timeout` (real time) until a wait that is not yet due asked for a
  // timeout `match` accepts. Returns that timeout, or nullopt if none came.
  std::optional<absl::Duration> AwaitPendingWait(std::function<bool(absl::Duration)> match,
                                                 absl::Duration real_timeout = absl::Seconds(20)) {
    absl::MutexLock lock(&mu_);
    std::optional<absl::Duration> found;
    auto ready = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      found.reset();
      for (const auto& w : waiters_) {
        if (w->deadline > now_ && match(w->timeout)) found = w->timeout;
      }
      return found.has_value();
    };
    mu_.AwaitWithTimeout(absl::Condition(&ready), real_timeout);
    return found;
  }

 private:
  // One blocked AwaitWithTimeout. `gone` tells Advance that `mu` may no longer exist.
  struct Waiter {
    absl::Mutex* mu = nullptr;
    absl::Duration timeout;
    absl::Time deadline;
    absl::Mutex ping_mu;
    bool gone ABSL_GUARDED_BY(ping_mu) = false;
  };

  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  std::vector<std::shared_ptr<Waiter>> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace plumb::testing
