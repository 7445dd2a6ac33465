#pragma once

// Waiting on a condition in tests that watch real threads, sockets or databases: polls `done`
// until it holds or a generous deadline passes (tests on 2 loaded cores wait for a condition,
// never for a fixed time).

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace plumb::testing {

// True once `done()` holds; false if it still does not after `timeout`.
template <typename F>
bool WaitFor(F done, absl::Duration timeout = absl::Seconds(20)) {
  absl::Time deadline = absl::Now() + timeout;
  while (!done()) {
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(10));
  }
  return true;
}

}  // namespace plumb::testing
