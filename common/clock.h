#pragma once

// Time as a seam: production code asks a Clock, tests drive a fake one.

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace plumb {

// Thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() = 0;
  virtual void SleepFor(absl::Duration d) = 0;
};

// The real clock.
class SystemClock : public Clock {
 public:
  absl::Time Now() override { return absl::Now(); }
  void SleepFor(absl::Duration d) override { absl::SleepFor(d); }
};

}  // namespace plumb
