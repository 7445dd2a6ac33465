#pragma once

// The `package` resource on Debian: dpkg-query to check, apt-get to install and remove.

#include "agent/host/command_runner.h"
#include "agent/providers/provider.h"
#include "agent/providers/resource_attributes.h"

namespace plumb {

// The attributes of a package resource, typed.
struct PackageSpec {
  std::string ensure;  // present, absent, purged or a version (installed/removed normalized)
};
// Reads every attribute common/resource_types.cc declares for a package.
absl::StatusOr<PackageSpec> ParsePackageSpec(AttributeReader& attrs);

// ensure: present (or installed), absent, purged, or a version to pin ("1.2-3"). Installs
// with apt-get under DEBIAN_FRONTEND=noninteractive, keeping existing config files; apt-get
// waits up to 5 minutes for a dpkg lock held by another apt run before failing.
// Thread-compatible.
class PackageProvider : public Provider {
 public:
  // `runner` is not owned and must outlive the provider.
  explicit PackageProvider(CommandRunner* runner) : runner_(runner) {}

  absl::StatusOr<CheckResult> Check(const v1::Resource& resource) override;
  absl::StatusOr<ChangeResult> Apply(const v1::Resource& resource,
                                     const CheckResult& check) override;

 private:
  // What dpkg knows about a package.
  struct Installed {
    bool installed = false;     // status "installed"
    bool config_files = false;  // removed, configuration left (purge would remove it)
    std::string version;
  };
  absl::StatusOr<Installed> Query(const std::string& name);

  CommandRunner* runner_;
};

}  // namespace plumb
