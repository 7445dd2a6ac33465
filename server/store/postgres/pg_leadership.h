#pragma once

// Leadership among replicas sharing one PostgreSQL database: a session-level advisory lock held
// on a dedicated connection (the leader's death drops the connection, and with it the lock), and
// LISTEN on the channel the leader NOTIFYs when it serves a new revision.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/leadership.h"

namespace plumb {

class PgConn;

// The NOTIFY channel of a new serving revision (payload: its sha); PgStore::SetServingRevision
// sends it in the same transaction, and PgStore::PutRolloutState with payload "rollout".
inline constexpr char kServingChannel[] = "plumb_serving";
// The NOTIFY channel of a follower asking the leader to fetch now (a webhook it received).
inline constexpr char kSyncChannel[] = "plumb_sync";
// The advisory lock key of the revision poller's leadership ("plumb" + 2; "plumb" + 1 is the
// migrations' transaction lock, server/store/postgres/pg_schema.cc).
inline constexpr int64_t kLeaderLockKey = 0x706c756d6202;

// Thread-safe. One thread tries the lock every `retry` while a follower, and waits on the
// connection's socket for notifications; a lost connection makes it a follower at once and it
// reconnects (and tries the lock again) every `retry`.
class PgLeadership : public Leadership {
 public:
  static absl::StatusOr<std::unique_ptr<PgLeadership>> Open(
      const std::string& url, const std::string& password,
      absl::Duration retry = absl::Seconds(1));
  ~PgLeadership() override;

  void Start(std::function<void()> on_change) override;
  void Stop() override;
  bool IsLeader() override { return leader_.load(); }
  // Sent by the watcher's thread within `retry` (it owns the connection).
  void RequestLeaderSync() override { nudge_ = true; }

 private:
  PgLeadership(std::unique_ptr<PgConn> conn, absl::Duration retry);
  void Loop();
  // Reconnects if needed, LISTENs once per session and tries the lock while a follower.
  // Returns whether the leadership changed.
  bool Refresh();
  // Waits up to retry_ for data on the socket; returns whether a notification arrived.
  bool WaitForNotification();

  const absl::Duration retry_;
  std::unique_ptr<PgConn> conn_;  // only the loop's thread uses it once started
  bool listening_ = false;        // LISTEN issued on the current session (loop's thread)
  std::atomic<bool> leader_{false};
  std::atomic<bool> nudge_{false};  // NOTIFY kSyncChannel at the next turn of the loop
  std::function<void()> on_change_;
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace plumb
