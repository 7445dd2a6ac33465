#include "server/console/console_sessions.h"

#include <utility>

#include "common/digest.h"
#include "common/pki/pki.h"
#include "common/status_macros.h"

namespace plumb {

absl::StatusOr<ConsoleSession> ConsoleSessions::Create(absl::string_view who) {
  ConsoleSession session;
  PLUMB_ASSIGN_OR_RETURN(session.id, RandomHex(32));
  PLUMB_ASSIGN_OR_RETURN(session.csrf, RandomHex(32));
  session.who = std::string(who);
  absl::Time now = clock_->Now();
  session.expires = now + lifetime_;
  absl::MutexLock lock(&mu_);
  if (sessions_.size() >= max_sessions_) DropExpiredLocked(now);
  while (!sessions_.empty() && sessions_.size() >= max_sessions_) {
    auto soonest = sessions_.begin();
    for (auto it = sessions_.begin(); it != sessions_.end(); ++it) {
      if (it->second.expires < soonest->second.expires) soonest = it;
    }
    sessions_.erase(soonest);
  }
  sessions_[Sha256Hex(session.id)] = session;
  return session;
}

std::optional<ConsoleSession> ConsoleSessions::Find(absl::string_view id) {
  if (id.empty()) return std::nullopt;
  std::string key = Sha256Hex(id);
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(key);
  if (it == sessions_.end()) return std::nullopt;
  if (clock_->Now() >= it->second.expires) {
    sessions_.erase(it);
    return std::nullopt;
  }
  return it->second;
}

void ConsoleSessions::Remove(absl::string_view id) {
  std::string key = Sha256Hex(id);
  absl::MutexLock lock(&mu_);
  sessions_.erase(key);
}

bool ConsoleSessions::CheckCsrf(absl::string_view id, absl::string_view token) {
  std::optional<ConsoleSession> session = Find(id);
  return session.has_value() && !token.empty() && ConstantTimeEquals(session->csrf, token);
}

size_t ConsoleSessions::size() const {
  absl::MutexLock lock(&mu_);
  return sessions_.size();
}

void ConsoleSessions::DropExpiredLocked(absl::Time now) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = now >= it->second.expires ? sessions_.erase(it) : std::next(it);
  }
}

}  // namespace plumb
