#include "server/console/console_sessions.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/digest.h"
#include "common/logging.h"
#include "common/secure_files.h"
#include "server/console/console_text.h"
#include "common/pki/pki.h"
#include "common/status_macros.h"

namespace plumb {

absl::StatusOr<ConsoleSession> ConsoleSessions::Create(absl::string_view who,
                                                      absl::string_view credential) {
  ConsoleSession session;
  PLUMB_ASSIGN_OR_RETURN(session.id, RandomHex(32));
  PLUMB_ASSIGN_OR_RETURN(session.csrf, RandomHex(32));
  session.who = std::string(who);
  session.credential = std::string(credential);
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
  ConsoleSession stored = session;
  stored.id.clear();
  sessions_[Sha256Hex(session.id)] = stored;
  SaveLocked();
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
  ConsoleSession found = it->second;
  found.id = std::string(id);
  return found;
}

void ConsoleSessions::Remove(absl::string_view id) {
  std::string key = Sha256Hex(id);
  absl::MutexLock lock(&mu_);
  if (sessions_.erase(key) > 0) SaveLocked();
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

absl::Status ConsoleSessions::Load() {
  if (file_.empty() || !FileExists(file_)) return absl::OkStatus();
  absl::StatusOr<std::string> text = ReadSmallFile(file_);
  if (!text.ok()) return text.status();
  absl::Time now = clock_->Now();
  absl::MutexLock lock(&mu_);
  for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
    std::vector<std::string> f = absl::StrSplit(line, ' ');
    int64_t expires = 0;
    if (f.size() != 5 || f[0].size() != 64 || !absl::SimpleAtoi(f[2], &expires)) continue;
    ConsoleSession session{"", f[1], UrlDecode(f[3]), UrlDecode(f[4]),
                           absl::FromUnixSeconds(expires)};
    if (session.expires <= now || sessions_.size() >= max_sessions_) continue;
    sessions_[f[0]] = session;
  }
  return absl::OkStatus();
}

void ConsoleSessions::SaveLocked() {
  if (file_.empty()) return;
  std::string text;
  for (const auto& [key, s] : sessions_) {
    absl::StrAppend(&text, key, " ", s.csrf, " ", absl::ToUnixSeconds(s.expires), " ",
                    UrlEncode(s.who), " ", UrlEncode(s.credential), "\n");
  }
  absl::Status saved = WriteFileAtomically(file_, text, 0600);
  if (!saved.ok()) LogWarning("cannot save console sessions", {{"error", saved.message()}});
}

}  // namespace plumb
