#pragma once

// The `service` resource on systemd: systemctl is-active / is-enabled to check; start, stop,
// enable, disable to apply; restart when notified.

#include "agent/host/command_runner.h"
#include "agent/providers/provider.h"
#include "agent/providers/resource_attributes.h"

namespace plumb {

// The attributes of a service resource, typed; nullopt: not managed.
struct ServiceSpec {
  std::optional<bool> running;
  std::optional<bool> enabled;
};
// Reads every attribute common/resource_types.cc declares for a service.
absl::StatusOr<ServiceSpec> ParseServiceSpec(AttributeReader& attrs);

// ensure: running | stopped (unset: not managed); enabled: true | false (unset: not managed).
// A notification restarts the service unless it is meant to be stopped, or was just started
// in this run. Before a start or restart, `systemctl daemon-reload` runs when a file, symlink
// or directory under a systemd unit directory (/etc/systemd/system, /run/systemd/system,
// /lib/systemd/system, /usr/lib/systemd/system: unit files, drop-ins) changed since the last
// reload, or systemd says the unit's files changed on disk (NeedDaemonReload): the new unit
// definition is the one started. systemd 252 does not flag a new drop-in directory itself.
// Thread-compatible.
class ServiceProvider : public Provider {
 public:
  // `runner` is not owned and must outlive the provider.
  explicit ServiceProvider(CommandRunner* runner) : runner_(runner) {}

  absl::StatusOr<CheckResult> Check(const v1::Resource& resource) override;
  absl::StatusOr<ChangeResult> Apply(const v1::Resource& resource,
                                     const CheckResult& check) override;
  bool CanRefresh(const v1::Resource& resource) const override { return true; }
  absl::StatusOr<ChangeResult> Refresh(const v1::Resource& resource) override;
  void ObserveChange(const v1::Resource& changed) override;

 private:
  // The service's current state as systemctl reports it.
  struct State {
    bool active = false;
    bool enabled = false;  // enabled, enabled-runtime, alias (or static/indirect when wanted)
  };
  using Spec = ServiceSpec;
  absl::StatusOr<Spec> SpecOf(const v1::Resource& resource);
  absl::StatusOr<State> Query(const v1::Resource& resource, const Spec& spec);
  absl::Status Systemctl(const std::string& verb, const std::string& unit);
  // Runs `systemctl daemon-reload` when a unit file changed in a run (ObserveChange) or
  // systemd says `unit` needs it.
  absl::Status ReloadIfUnitChanged(const std::string& unit);

  CommandRunner* runner_;
  // A path under a unit directory changed since the last daemon-reload this provider ran.
  bool unit_files_changed_ = false;
};

}  // namespace plumb
