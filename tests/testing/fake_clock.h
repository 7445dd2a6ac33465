#pragma once

// A Clock that moves only when told, for tests where time matters (retention, timestamps).

#include "absl/synchronization/mutex.h"
#include "common/clock.h"

namespace plumb::testing {

// Thread-safe.
class ManualClock : public Clock {
 public:
  explicit ManualClock(absl::Time now = absl::FromUnixSeconds(1700000000)) : now_(now) {}
  absl::Time Now() override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void SleepFor(absl::Duration d) override { Advance(d); }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace plumb::testing
