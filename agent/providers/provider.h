#pragma once

// The interface every resource type implements: a check that changes nothing, an apply that
// makes the host match, and (for services and execs) a refresh when notified.

#include <string>

#include "absl/status/statusor.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

// What a check found. Produced by Provider::Check and handed back to Provider::Apply.
struct CheckResult {
  bool in_sync = true;
  // Out of sync: what differs ("content changed, mode 0600 -> 0644"); in sync: usually empty.
  std::string message;
  // A unified diff for file content; never set for sensitive resources.
  std::string diff;
  // Applying this change also does what a refresh would (a service being started, an exec
  // being run), so a notification in the same run adds nothing.
  bool apply_refreshes = false;
  // Provider-private data carried from check to apply (e.g. the fetched file content).
  std::string content;
};

// What an apply or refresh did.
struct ChangeResult {
  bool changed = true;  // false when a refresh found nothing to do (an exec's guard said no)
  std::string message;
  bool created = false;  // a file, directory or symlink that did not exist was created
};

// A resource type's implementation. Providers hold no per-resource state between calls;
// the engine calls Check, then Apply only when out of sync and not in noop. Thread-compatible.
class Provider {
 public:
  virtual ~Provider() = default;

  // Compares the resource with the host and changes nothing (an exec's onlyif/unless guard
  // commands do run: they are read-only by contract, as in Puppet). An error is a FAILED
  // resource: a bad attribute, an unreadable path, a path escaping root.
  virtual absl::StatusOr<CheckResult> Check(const v1::Resource& resource) = 0;

  // Makes the host match `resource`, given what Check found. Returns what it did.
  virtual absl::StatusOr<ChangeResult> Apply(const v1::Resource& resource,
                                             const CheckResult& check) = 0;

  // True if the resource reacts to notify/subscribe (service restart, exec run).
  virtual bool CanRefresh(const v1::Resource& resource) const { return false; }

  // Reacts to a notification from a resource that changed.
  virtual absl::StatusOr<ChangeResult> Refresh(const v1::Resource& resource) {
    return ChangeResult{false, ""};
  }

  // Told by the engine of every resource a (non-noop) run changed, of any type, right after
  // it changed and before the resources ordered after it are checked: a provider whose host
  // state depends on other resources (systemd reading unit files) notes it. Default: ignored.
  virtual void ObserveChange(const v1::Resource& changed) {}
};

class Filesystem;  // agent/host/filesystem.h

// A provider that touches only paths under the root, through `fs` (not owned; it must outlive
// the provider).
class FilesystemProvider : public Provider {
 protected:
  explicit FilesystemProvider(Filesystem* fs) : fs_(fs) {}
  Filesystem* const fs_;
};

}  // namespace plumb
