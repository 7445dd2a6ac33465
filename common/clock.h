#pragma once

// Time as a seam: production code asks a Clock, tests drive a fake one.

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace plumb {

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  // Every timed wait of a daemon loop: with `mu` held, waits until `cond` holds or `timeout`
  // has passed on this clock, releasing `mu` while waiting (like absl::Mutex::AwaitWithTimeout).
  // Returns with `mu` held and whether `cond` holds. A fake clock wakes the waiter when its
  // time is advanced past the deadline, so a loop's waits are driven by the test.
  virtual bool AwaitWithTimeout(absl::Mutex* mu, const absl::Condition& cond,
                                absl::Duration timeout) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) = 0;
};

// The real clock.
class SystemClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  bool AwaitWithTimeout(absl::Mutex* mu, const absl::Condition& cond,
                        absl::Duration timeout) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) override {
    return mu->AwaitWithTimeout(cond, timeout);
  }
};

}  // namespace plumb
