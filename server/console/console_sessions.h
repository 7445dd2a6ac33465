#pragma once

// The console's sign-in sessions: a bounded, expiring table held in memory and, when given a
// file, saved there on every sign-in and sign-out (so a server restart signs nobody out and open
// pages reconnect). The file holds sha256 of each session id, never the id (the cookie) itself. A session is created when an operator signs in with a bearer token or
// an operator certificate; the browser holds only its random id, in an HttpOnly, Secure,
// SameSite=Strict cookie. Each session has its own CSRF token, which every action (POST) must
// echo in a form field or header.

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"

namespace plumb {

// One signed-in operator.
struct ConsoleSession {
  std::string id;       // 32 random bytes, hex: the cookie's value
  std::string csrf;     // 32 random bytes, hex
  std::string who;      // "token" or the operator certificate's CN, for logs
  // What signed in, re-checked on every request (console_router.h): "token:<sha256 hex>" or
  // "cert:<fingerprint>:<CN, url-encoded>". Empty: nothing to re-check (tests).
  std::string credential;
  absl::Time expires;
};

// Thread-safe.
class ConsoleSessions {
 public:
  static constexpr size_t kDefaultMaxSessions = 1000;

  // `clock` is not owned and must outlive this. `file` (optional): where sessions persist.
  ConsoleSessions(Clock* clock, absl::Duration lifetime,
                  size_t max_sessions = kDefaultMaxSessions, std::string file = "")
      : clock_(clock), lifetime_(lifetime), max_sessions_(max_sessions), file_(std::move(file)) {}

  // Reads the sessions saved in the file (a missing file is an empty table); expired ones and
  // malformed lines are skipped. Fails when the file exists but cannot be read.
  absl::Status Load();

  // A new session for `who`, expiring after the lifetime. When the table is full, expired
  // sessions are dropped and then, if still full, the one expiring soonest. Fails only when
  // the system has no randomness.
  absl::StatusOr<ConsoleSession> Create(absl::string_view who,
                                        absl::string_view credential = "");
  // The live session with this id; nullopt when unknown or expired (an expired one is removed).
  std::optional<ConsoleSession> Find(absl::string_view id);
  // Signs out. Unknown ids are ignored.
  void Remove(absl::string_view id);
  // True when `token` is the CSRF token of the live session `id` (compared in constant time).
  bool CheckCsrf(absl::string_view id, absl::string_view token);

  size_t size() const;
  absl::Duration lifetime() const { return lifetime_; }

 private:
  void DropExpiredLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes the table to the file (if any); a failure is logged, the session still works.
  void SaveLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Clock* const clock_;
  const absl::Duration lifetime_;
  const size_t max_sessions_;
  const std::string file_;
  mutable absl::Mutex mu_;
  // Keyed by sha256 of the id, so a lookup's timing says nothing about stored ids. A stored
  // session's `id` is empty (Find fills it from the caller's).
  std::map<std::string, ConsoleSession> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace plumb
