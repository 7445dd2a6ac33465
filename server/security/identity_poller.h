#pragma once

// Replicas on one PostgreSQL database learn of each other's enrollments, renewals and
// revocations by polling the shared identity table's change sequence (one cheap query a
// second; nothing is missed after a lost connection or notification, since it reads what
// changed since the last sequence number it applied). A node revoked elsewhere has its stream
// cut here through the same path as a local revocation (StreamHub::SetRevoked).

#include <functional>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "server/store/identity_store.h"

namespace plumb {

// What the poller tells the rest of the server.
struct IdentityPollerCallbacks {
  std::function<void(const std::string& node)> on_revoked;   // revoked by another replica
  std::function<void(const std::string& node)> on_enrolled;  // (re-)enrolled by another
  std::function<void()> on_operators_revoked;                // operator certificates revoked
};

// Thread-safe. `identities` and `clock` are not owned and must outlive the poller.
class IdentityPoller {
 public:
  IdentityPoller(IdentityStore* identities, Clock* clock, IdentityPollerCallbacks callbacks,
                 absl::Duration interval = absl::Seconds(1));
  ~IdentityPoller();  // Stops the loop.

  // One poll now: applies what changed and calls the callbacks. Returns the Refresh error.
  absl::Status PollOnce();
  // Polls every interval on a thread of its own until Stop().
  void Start();
  void Stop();

 private:
  void Loop();

  IdentityStore* const identities_;
  Clock* const clock_;
  const IdentityPollerCallbacks callbacks_;
  const absl::Duration interval_;

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace plumb
