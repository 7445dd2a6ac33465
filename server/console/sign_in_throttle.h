#pragma once

// Failed console sign-ins counted per client address, so that one address cannot try operator
// tokens at the speed of the network: after kMaxFailures failures in a row (each within
// kWindow of the previous) it is refused for kLockout, whatever it sends.

#include <cstddef>
#include <map>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace plumb {

// Thread-safe. `clock` is not owned and must outlive the throttle.
class SignInThrottle {
 public:
  static constexpr int kMaxFailures = 5;
  static constexpr absl::Duration kWindow = absl::Minutes(5);
  static constexpr absl::Duration kLockout = absl::Minutes(1);
  // Addresses remembered at most; past it the stalest are forgotten (a flood of addresses
  // costs memory once, not without bound).
  static constexpr size_t kMaxAddresses = 10000;

  explicit SignInThrottle(Clock* clock) : clock_(clock) {}

  // Zero when `peer` ("address:port" or "[v6]:port"; the port is ignored) may try now,
  // otherwise how long it must wait.
  absl::Duration Wait(const std::string& peer);
  // A refused token from `peer`: counts towards its lockout.
  void Failed(const std::string& peer);
  // A successful sign-in from `peer`: its count starts again.
  void Succeeded(const std::string& peer);

  // The address part of "address:port" / "[v6]:port" (what is counted).
  static std::string Address(const std::string& peer);

 private:
  struct Entry {
    int failures = 0;
    absl::Time last_failure;
  };
  void Prune(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
};

}  // namespace plumb
