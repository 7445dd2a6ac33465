#pragma once

// Exponential backoff with full jitter for reconnects (like Envoy's JitteredBackOffStrategy):
// each failure doubles the ceiling up to a maximum; the delay is uniform in [base/2, ceiling];
// a good message resets it.

#include <algorithm>

#include "absl/random/random.h"
#include "absl/time/time.h"

namespace plumb {

// Thread-compatible.
class Backoff {
 public:
  Backoff(absl::Duration initial, absl::Duration max) : initial_(initial), max_(max), ceiling_(initial) {}
  absl::Duration Next() {
    int64_t ceiling_ms = absl::ToInt64Milliseconds(ceiling_);
    absl::Duration d = absl::Milliseconds(absl::Uniform<int64_t>(bitgen_, ceiling_ms / 2, ceiling_ms + 1));
    ceiling_ = std::min(max_, ceiling_ * 2);
    return d;
  }
  void Reset() { ceiling_ = initial_; }

 private:
  const absl::Duration initial_, max_;
  absl::Duration ceiling_;
  absl::BitGen bitgen_;
};

}  // namespace plumb
