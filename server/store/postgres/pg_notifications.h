#pragma once

// A PostgreSQL notification dispatcher: one LISTEN connection per replica, channels mapped to
// callbacks. NOTIFYs sent while the connection is down are lost, so every callback is also told
// "you may have missed some" after each (re)connect and every `poll` interval: consumers keep
// their state in tables and re-read them then (the notification only makes it prompt).

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace plumb {

class PgConn;

// Thread-safe. Callbacks run on the dispatcher's one thread, in the order notifications
// arrive; they must not block for long (hand work to your own thread) nor call Stop.
class PgNotificationDispatcher {
 public:
  // `payload` is the notification's (empty when `missed`); `missed` is true after a
  // (re)connect and every poll interval: notifications may have been lost, re-read the state.
  using Callback = std::function<void(const std::string& payload, bool missed)>;

  // Connects (Unavailable if PostgreSQL cannot be reached). `retry`: how often a lost
  // connection is retried; `poll`: how often callbacks are told they may have missed some.
  static absl::StatusOr<std::unique_ptr<PgNotificationDispatcher>> Open(
      const std::string& url, const std::string& password, absl::Duration poll = absl::Seconds(2),
      absl::Duration retry = absl::Seconds(1));
  ~PgNotificationDispatcher();

  // Listens on `channel` (a lower-case SQL identifier: [a-z_][a-z0-9_]*) once started. Call
  // before Start. InvalidArgument for another name.
  absl::Status Subscribe(const std::string& channel, Callback callback);
  void Start();
  // Joins the thread (wakes it at once) and closes the connection. Idempotent.
  void Stop();

  // Sessions opened so far (1 after the first connect; tests of reconnection).
  int sessions() const;

 private:
  PgNotificationDispatcher(std::unique_ptr<PgConn> conn, absl::Duration poll, absl::Duration retry,
                           int wake_fd);
  void Loop();
  // Reconnects and LISTENs when needed; returns false while the database is unreachable.
  bool EnsureListening();
  // Waits up to `timeout` for the socket or a Stop and hands what arrived to the callbacks;
  // Unavailable when the session was lost.
  absl::Status WaitAndDispatch(absl::Duration timeout);
  void TellMissed();
  bool stopping() const;

  const absl::Duration poll_;
  const absl::Duration retry_;
  const int wake_fd_;             // an eventfd: Stop wakes the thread's poll(2)
  std::unique_ptr<PgConn> conn_;  // the loop's thread only, once started
  bool listening_ = false;        // the loop's thread only
  std::map<std::string, std::vector<Callback>> callbacks_;  // fixed once started
  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  int sessions_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace plumb
