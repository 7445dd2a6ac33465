#include "agent/engine/drift_watch.h"

#include <poll.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/logging.h"

namespace plumb {
namespace {

constexpr uint32_t kMask = IN_MODIFY | IN_CLOSE_WRITE | IN_ATTRIB | IN_CREATE | IN_DELETE |
                           IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;

bool IsWatchedType(const std::string& type) {
  return type == "file" || type == "directory" || type == "symlink";
}

}  // namespace

DriftWatch::DriftWatch(std::string root, std::function<void()> on_drift, absl::Duration quiet,
                       absl::Duration max_delay)
    : root_(root == "/" ? "" : std::move(root)), on_drift_(std::move(on_drift)), quiet_(quiet),
      max_delay_(max_delay) {}

DriftWatch::~DriftWatch() {
  Stop();
  absl::MutexLock lock(&fd_mu_);
  if (fd_ >= 0) close(fd_);
}

absl::Status DriftWatch::Start() {
  {
    absl::MutexLock lock(&fd_mu_);
    fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ < 0) return absl::UnavailableError(absl::StrCat("inotify: ", strerror(errno)));
  }
  thread_ = std::thread([this] { Loop(); });
  return absl::OkStatus();
}

void DriftWatch::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void DriftWatch::Watch(const v1::Catalog& catalog) {
  std::map<std::string, std::vector<std::string>> wanted;  // dir -> managed names in it
  for (const v1::Resource& r : catalog.resources()) {
    if (!IsWatchedType(r.type()) || r.name().empty() || r.name() == "/") continue;
    size_t slash = r.name().rfind('/');
    std::string parent = root_ + (slash == 0 ? "/" : r.name().substr(0, slash));
    wanted[parent].push_back(r.name().substr(slash + 1));
  }
  for (auto& [dir, names] : wanted) {
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    names.shrink_to_fit();
  }
  absl::MutexLock lock(&fd_mu_);
  if (fd_ < 0) return;
  for (auto it = wd_by_dir_.begin(); it != wd_by_dir_.end();) {
    if (!wanted.count(it->first)) {
      inotify_rm_watch(fd_, it->second);
      names_by_wd_.erase(it->second);
      it = wd_by_dir_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [dir, names] : wanted) {
    // IN_DONT_FOLLOW: a symlinked parent is not ours to watch through.
    int wd = inotify_add_watch(fd_, dir.c_str(), kMask | IN_ONLYDIR | IN_DONT_FOLLOW);
    if (wd < 0) continue;  // parent missing: the next run creates it and re-watches
    wd_by_dir_[dir] = wd;
    names_by_wd_[wd] = std::move(names);
  }
}

void DriftWatch::DiscardPending() {
  absl::MutexLock lock(&fd_mu_);
  ReadEvents();
  pending_ = false;
}

bool DriftWatch::ReadEvents() {
  bool relevant = false;
  alignas(struct inotify_event) char buf[16384];
  while (true) {
    ssize_t n = read(fd_, buf, sizeof(buf));
    if (n <= 0) break;
    for (char* p = buf; p < buf + n;) {
      auto* ev = reinterpret_cast<struct inotify_event*>(p);
      p += sizeof(struct inotify_event) + ev->len;
      auto it = names_by_wd_.find(ev->wd);
      if (it == names_by_wd_.end()) continue;
      if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
        relevant = true;
        continue;
      }
      if (ev->len > 0 &&
          std::binary_search(it->second.begin(), it->second.end(), std::string_view(ev->name))) {
        relevant = true;
      }
    }
  }
  return relevant;
}

void DriftWatch::Loop() {
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
    }
    int fd;
    {
      absl::MutexLock lock(&fd_mu_);
      fd = fd_;
    }
    struct pollfd pfd = {fd, POLLIN, 0};
    poll(&pfd, 1, 100);
    bool fire = false;
    {
      absl::MutexLock lock(&fd_mu_);
      absl::Time now = absl::Now();
      if (ReadEvents()) {
        if (!pending_) first_event_ = now;
        pending_ = true;
        last_event_ = now;
      }
      if (pending_ && (now - last_event_ >= quiet_ || now - first_event_ >= max_delay_)) {
        pending_ = false;
        fire = true;
      }
    }
    if (fire) {
      LogInfo("drift detected; repairing");
      on_drift_();
    }
  }
}

}  // namespace plumb
