#pragma once

// Watches the paths a catalog manages with inotify and asks for a repair run (debounced) when
// something outside the agent changes them: a hand edit is repaired within about a second
// instead of at the next interval. The agent's own writes are discarded, not reported as drift.

#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

// Thread-safe.
class DriftWatch {
 public:
  // `on_drift` runs on the watch thread after `quiet` without further events (or `max_delay`
  // after the first one during a burst).
  DriftWatch(std::string root, std::function<void()> on_drift,
             absl::Duration quiet = absl::Milliseconds(300),
             absl::Duration max_delay = absl::Seconds(2));
  ~DriftWatch();

  // Starts the watch thread. Returns an error if inotify is unavailable.
  absl::Status Start();
  void Stop();

  // Watches the parent directories of every file, directory and symlink of `catalog` (under
  // root). Replaces the previous set. Missing parents are skipped until the next call.
  void Watch(const v1::Catalog& catalog);

  // Drops every event queued so far: call after the agent's own run, whose writes are not drift.
  void DiscardPending();

 private:
  void Loop();
  // Reads queued events; returns true if one concerns a managed name. Requires fd_mu_.
  bool ReadEvents() ABSL_EXCLUSIVE_LOCKS_REQUIRED(fd_mu_);

  const std::string root_;
  const std::function<void()> on_drift_;
  const absl::Duration quiet_, max_delay_;

  mutable absl::Mutex fd_mu_;
  int fd_ ABSL_GUARDED_BY(fd_mu_) = -1;
  // Managed names per watched directory, sorted (a vector, not a set: a third of the memory
  // for thousands of names, held as long as the daemon runs).
  std::map<int, std::vector<std::string>> names_by_wd_ ABSL_GUARDED_BY(fd_mu_);
  std::map<std::string, int> wd_by_dir_ ABSL_GUARDED_BY(fd_mu_);
  bool pending_ ABSL_GUARDED_BY(fd_mu_) = false;
  absl::Time first_event_ ABSL_GUARDED_BY(fd_mu_);
  absl::Time last_event_ ABSL_GUARDED_BY(fd_mu_);

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace plumb
