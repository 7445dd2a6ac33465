#include "server/store/postgres/pg_leadership.h"

#include <poll.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "server/store/postgres/pg_conn.h"

namespace plumb {

absl::StatusOr<std::unique_ptr<PgLeadership>> PgLeadership::Open(const std::string& url,
                                                                 const std::string& password,
                                                                 absl::Duration retry) {
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, PgConn::Connect(url, password));
  return std::unique_ptr<PgLeadership>(new PgLeadership(std::move(conn), retry));
}

PgLeadership::PgLeadership(std::unique_ptr<PgConn> conn, absl::Duration retry)
    : retry_(retry), conn_(std::move(conn)) {}

PgLeadership::~PgLeadership() { Stop(); }

void PgLeadership::Start(std::function<void()> on_change) {
  on_change_ = std::move(on_change);
  Refresh();  // a replica that can lead leads from its first poll
  thread_ = std::thread([this] { Loop(); });
}

void PgLeadership::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  // Closing the session releases the lock at once (rather than at the process's exit).
  conn_.reset();
  leader_ = false;
}

void PgLeadership::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    if (Refresh() && on_change_) on_change_();
    if (WaitForNotification() && on_change_) on_change_();
  }
}

bool PgLeadership::Refresh() {
  bool was_leader = leader_.load();
  if (!conn_->connected()) {
    leader_ = false;
    listening_ = false;
    if (!conn_->EnsureConnected().ok()) return was_leader;
  }
  if (!listening_) {
    absl::Status listen =
        conn_->ExecScript(absl::StrCat("LISTEN ", kServingChannel, "; LISTEN ", kSyncChannel));
    if (!listen.ok()) {
      LogWarning("cannot listen for new revisions", {{"error", listen.message()}});
      return was_leader != leader_.load();
    }
    listening_ = true;
  }
  if (nudge_.exchange(false)) {
    absl::Status sent =
        conn_->Query("SELECT pg_notify($1, '')", {PgParam::Text(kSyncChannel)}).status();
    if (!sent.ok()) LogWarning("cannot ask the leader to fetch", {{"error", sent.message()}});
  }
  if (!leader_.load()) {
    absl::StatusOr<PgResult> got =
        conn_->Query("SELECT pg_try_advisory_lock($1)", {PgParam::Int(kLeaderLockKey)});
    if (got.ok() && got->rows() == 1 && got->Int(0, 0) != 0) {
      leader_ = true;
      LogInfo("this replica now fetches and records revisions (leader)", {});
    }
  }
  return was_leader != leader_.load();
}

bool PgLeadership::WaitForNotification() {
  int fd = conn_->socket();
  if (fd >= 0) {
    pollfd p{fd, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(retry_)));
  } else {
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), retry_);
  }
  absl::StatusOr<std::vector<std::string>> got = conn_->ConsumeNotifications();
  if (!got.ok()) {
    if (leader_.load()) {
      LogWarning("lost the database session; no longer the leader", {{"error", got.status().message()}});
    }
    leader_ = false;
    listening_ = false;
    return true;  // re-read the serving revision once reconnected
  }
  return !got->empty();
}

}  // namespace plumb
