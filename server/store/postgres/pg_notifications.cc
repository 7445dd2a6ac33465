#include "server/store/postgres/pg_notifications.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "server/store/postgres/pg_conn.h"

namespace plumb {
namespace {

bool IsChannelName(const std::string& name) {
  if (name.empty() || name.size() > 63 || (name[0] >= '0' && name[0] <= '9')) return false;
  for (char c : name) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<PgNotificationDispatcher>> PgNotificationDispatcher::Open(
    const std::string& url, const std::string& password, absl::Duration poll,
    absl::Duration retry) {
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, PgConn::Connect(url, password));
  int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return absl::InternalError("eventfd failed");
  return std::unique_ptr<PgNotificationDispatcher>(
      new PgNotificationDispatcher(std::move(conn), poll, retry, fd));
}

PgNotificationDispatcher::PgNotificationDispatcher(std::unique_ptr<PgConn> conn,
                                                   absl::Duration poll, absl::Duration retry,
                                                   int wake_fd)
    : poll_(poll), retry_(retry), wake_fd_(wake_fd), conn_(std::move(conn)) {}

PgNotificationDispatcher::~PgNotificationDispatcher() {
  Stop();
  ::close(wake_fd_);
}

absl::Status PgNotificationDispatcher::Subscribe(const std::string& channel, Callback callback) {
  if (!IsChannelName(channel)) {
    return absl::InvalidArgumentError(absl::StrCat("not a channel name: \"", channel, "\""));
  }
  PLUMB_CHECK(!thread_.joinable());
  callbacks_[channel].push_back(std::move(callback));
  return absl::OkStatus();
}

void PgNotificationDispatcher::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void PgNotificationDispatcher::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  uint64_t one = 1;
  (void)!::write(wake_fd_, &one, sizeof(one));
  if (thread_.joinable()) thread_.join();
  conn_.reset();
}

int PgNotificationDispatcher::sessions() const {
  absl::MutexLock lock(&mu_);
  return sessions_;
}

bool PgNotificationDispatcher::stopping() const {
  absl::MutexLock lock(&mu_);
  return stopping_;
}

void PgNotificationDispatcher::Loop() {
  absl::Time next_poll = absl::Now() + poll_;
  while (!stopping()) {
    if (!EnsureListening()) {
      (void)WaitAndDispatch(retry_);  // only the wake-up fd: there is no socket
      continue;
    }
    absl::Duration left = std::max(next_poll - absl::Now(), absl::ZeroDuration());
    absl::Status waited = WaitAndDispatch(left);
    if (!waited.ok()) {
      LogWarning("lost the notification session; reconnecting", {{"error", waited.message()}});
      listening_ = false;
      continue;
    }
    if (absl::Now() >= next_poll) {
      next_poll = absl::Now() + poll_;
      TellMissed();
    }
  }
}

bool PgNotificationDispatcher::EnsureListening() {
  if (listening_ && conn_->connected()) return true;
  listening_ = false;
  if (!conn_->EnsureConnected().ok()) return false;
  std::string script;
  for (const auto& [channel, callbacks] : callbacks_)
    absl::StrAppend(&script, "LISTEN ", channel, ";");
  if (!script.empty()) {
    absl::Status listen = conn_->ExecScript(script);
    if (!listen.ok()) {
      LogWarning("cannot listen for notifications", {{"error", listen.message()}});
      return false;
    }
  }
  listening_ = true;
  {
    absl::MutexLock lock(&mu_);
    ++sessions_;
  }
  TellMissed();  // whatever was sent while we were not listening
  return true;
}

absl::Status PgNotificationDispatcher::WaitAndDispatch(absl::Duration timeout) {
  int fd = listening_ ? conn_->socket() : -1;
  pollfd fds[2] = {{wake_fd_, POLLIN, 0}, {fd, POLLIN, 0}};
  ::poll(fds, fd >= 0 ? 2 : 1, static_cast<int>(absl::ToInt64Milliseconds(timeout)) + 1);
  if (fd < 0) return absl::OkStatus();
  PLUMB_ASSIGN_OR_RETURN(std::vector<PgNotification> notices, conn_->ConsumeNotices());
  for (const PgNotification& n : notices) {
    auto it = callbacks_.find(n.channel);
    if (it == callbacks_.end()) continue;
    for (const Callback& callback : it->second) callback(n.payload, false);
  }
  return absl::OkStatus();
}

void PgNotificationDispatcher::TellMissed() {
  for (const auto& [channel, callbacks] : callbacks_) {
    for (const Callback& callback : callbacks) callback("", true);
  }
}

}  // namespace plumb
