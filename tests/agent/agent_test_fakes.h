#pragma once

// Fakes shared by the agent's tests: an in-memory blob source, a fake clock, a command runner
// that records and scripts calls, and helpers to build resources.

#include <sys/stat.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "agent/engine/apply_engine.h"
#include "agent/host/command_runner.h"
#include "agent/host/filesystem.h"
#include "agent/providers/provider.h"
#include "tests/testing/fake_clock.h"
#include "common/catalog.h"
#include "common/clock.h"
#include "common/digest.h"
#include "plumb/v1/types.pb.h"

namespace plumb::testing {

// Blobs by digest, added with Put(). Thread-safe.
class MapBlobSource : public BlobSource {
 public:
  // Stores `content` and returns its digest.
  std::string Put(const std::string& content) {
    absl::MutexLock lock(&mu_);
    std::string digest = Sha256Hex(content);
    blobs_[digest] = content;
    return digest;
  }
  absl::StatusOr<std::string> Get(const std::string& digest) override {
    absl::MutexLock lock(&mu_);
    auto it = blobs_.find(digest);
    if (it == blobs_.end()) return absl::NotFoundError("no blob " + digest);
    return it->second;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, std::string> blobs_ ABSL_GUARDED_BY(mu_);
};

// Records every command (argv joined by spaces) and answers from a script: the first rule
// whose prefix matches the joined argv gives the result; unmatched commands exit 0 silently.
class ScriptedCommandRunner : public CommandRunner {
 public:
  void On(const std::string& prefix, int exit_code, const std::string& out = "",
          const std::string& err = "") {
    absl::MutexLock lock(&mu_);
    CommandResult result;
    result.exit_code = exit_code;
    result.stdout_text = out;
    result.stderr_text = err;
    rules_.push_back({prefix, result});
  }
  // Like On, but the rule answers one call only (before any On rule), then is dropped: the
  // host changing under the provider (an account that useradd has just created).
  void Once(const std::string& prefix, int exit_code, const std::string& out = "") {
    absl::MutexLock lock(&mu_);
    CommandResult result;
    result.exit_code = exit_code;
    result.stdout_text = out;
    once_.push_back({prefix, result});
  }
  absl::StatusOr<CommandResult> Run(const Command& command) override {
    absl::MutexLock lock(&mu_);
    std::string line = absl::StrJoin(command.argv, " ");
    calls_.push_back(line);
    for (auto it = once_.begin(); it != once_.end(); ++it) {
      if (line.rfind(it->first, 0) != 0) continue;
      CommandResult result = it->second;
      once_.erase(it);
      return result;
    }
    for (const auto& [prefix, result] : rules_) {
      if (line.rfind(prefix, 0) == 0) return result;
    }
    CommandResult ok;
    ok.exit_code = 0;
    return ok;
  }
  std::vector<std::string> calls() {
    absl::MutexLock lock(&mu_);
    return calls_;
  }
  // Calls that start with `prefix`.
  std::vector<std::string> CallsStartingWith(const std::string& prefix) {
    std::vector<std::string> out;
    for (const std::string& c : calls()) {
      if (c.rfind(prefix, 0) == 0) out.push_back(c);
    }
    return out;
  }

 private:
  absl::Mutex mu_;
  std::vector<std::pair<std::string, CommandResult>> rules_ ABSL_GUARDED_BY(mu_);
  std::vector<std::pair<std::string, CommandResult>> once_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> calls_ ABSL_GUARDED_BY(mu_);
};

// Counts syncs, runs a hook before each (to look at the disk at that moment), and fails
// whole-filesystem syncs with `fail_filesystem_sync` (an errno value) when set. Thread-compatible.
class RecordingSyncCalls : public SyncCalls {
 public:
  int SyncFilesystem(int fd) override {
    ++filesystem_syncs;
    if (before_filesystem_sync) before_filesystem_sync();
    if (fail_filesystem_sync != 0) return fail_filesystem_sync;
    return SyncCalls::SyncFilesystem(fd);
  }
  int SyncFile(int fd) override {
    ++file_syncs;
    if (before_file_sync) before_file_sync();
    return SyncCalls::SyncFile(fd);
  }
  int filesystem_syncs = 0;
  int file_syncs = 0;
  int fail_filesystem_sync = 0;
  std::function<void()> before_filesystem_sync;
  std::function<void()> before_file_sync;
};

// A resource with string attributes.
inline v1::Resource MakeResource(const std::string& type, const std::string& name,
                                 const std::map<std::string, std::string>& attributes = {}) {
  v1::Resource r;
  r.set_type(type);
  r.set_name(name);
  r.set_id(ResourceId(type, name));
  for (const auto& [k, v] : attributes) (*r.mutable_attributes())[k].set_str(v);
  return r;
}

inline void SetList(v1::Resource* r, const std::string& key,
                    const std::vector<std::string>& items) {
  auto* list = (*r->mutable_attributes())[key].mutable_list();
  for (const std::string& item : items) list->add_items(item);
}

// stat() of a host path; st_ino 0 when missing.
inline struct stat StatPath(const std::string& path) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) st.st_ino = 0;
  return st;
}

// Checks `r`, applies it when out of sync, and returns what Check found (or Apply's error).
inline absl::StatusOr<CheckResult> Converge(Provider& provider, const v1::Resource& r) {
  absl::StatusOr<CheckResult> check = provider.Check(r);
  if (check.ok() && !check->in_sync) {
    absl::StatusOr<ChangeResult> applied = provider.Apply(r, *check);
    if (!applied.ok()) return applied.status();
  }
  return check;
}

}  // namespace plumb::testing
