#include "agent/providers/service_provider.h"

#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/providers/resource_attributes.h"
#include "common/status_macros.h"

namespace plumb {
namespace {

constexpr absl::Duration kSystemctlTimeout = absl::Minutes(5);

Command SystemctlCommand(const std::string& verb, const std::string& unit) {
  Command command;
  command.argv = {"systemctl", verb, "--", unit};
  command.timeout = kSystemctlTimeout;
  return command;
}

// Asks systemd whether `unit`'s files changed on disk since it loaded them.
Command ShowNeedDaemonReloadCommand(const std::string& unit) {
  Command command;
  command.argv = {"systemctl", "show", "--property=NeedDaemonReload", "--", unit};
  command.timeout = kSystemctlTimeout;
  return command;
}

// Where systemd reads system unit files and their drop-in directories.
constexpr const char* kUnitDirectories[] = {"/etc/systemd/system/", "/run/systemd/system/",
                                            "/lib/systemd/system/", "/usr/lib/systemd/system/"};

}  // namespace

absl::StatusOr<ServiceSpec> ParseServiceSpec(AttributeReader& attrs) {
  ServiceSpec spec;
  PLUMB_ASSIGN_OR_RETURN(std::string ensure, attrs.Ensure());
  if (!ensure.empty()) spec.running = ensure == "running";
  PLUMB_ASSIGN_OR_RETURN(spec.enabled, attrs.OptionalBool("enabled"));
  return spec;
}

absl::StatusOr<ServiceProvider::Spec> ServiceProvider::SpecOf(const v1::Resource& resource) {
  AttributeReader attrs(resource);
  return ParseServiceSpec(attrs);
}

absl::StatusOr<ServiceProvider::State> ServiceProvider::Query(const v1::Resource& resource,
                                                              const Spec& spec) {
  State state;
  PLUMB_ASSIGN_OR_RETURN(CommandResult active,
                         runner_->Run(SystemctlCommand("is-active", resource.name())));
  state.active = active.success();
  if (spec.enabled.has_value()) {
    PLUMB_ASSIGN_OR_RETURN(CommandResult enabled,
                           runner_->Run(SystemctlCommand("is-enabled", resource.name())));
    std::string word(absl::StripAsciiWhitespace(enabled.stdout_text));
    word = word.substr(0, word.find('\n'));
    state.enabled = word == "enabled" || word == "enabled-runtime" || word == "alias";
    // Units that cannot be enabled or disabled count as whatever is wanted: asking again
    // each run would only fail.
    if (word == "static" || word == "indirect" || word == "generated" || word == "transient") {
      state.enabled = *spec.enabled;
    }
  }
  return state;
}

absl::Status ServiceProvider::Systemctl(const std::string& verb, const std::string& unit) {
  absl::StatusOr<std::string> output = RunForOutput(runner_, SystemctlCommand(verb, unit));
  if (!output.ok()) {
    return absl::Status(output.status().code(), absl::StrCat("systemctl ", verb, " ", unit, ": ",
                                                             output.status().message()));
  }
  return absl::OkStatus();
}

void ServiceProvider::ObserveChange(const v1::Resource& changed) {
  if (changed.type() != "file" && changed.type() != "symlink" && changed.type() != "directory") {
    return;
  }
  for (const char* directory : kUnitDirectories) {
    if (absl::StartsWith(changed.name(), directory)) unit_files_changed_ = true;
  }
}

absl::Status ServiceProvider::ReloadIfUnitChanged(const std::string& unit) {
  bool reload = unit_files_changed_;
  if (!reload) {
    absl::StatusOr<CommandResult> shown = runner_->Run(ShowNeedDaemonReloadCommand(unit));
    // An old or fake systemctl that cannot say: start as before (systemd warns in its log).
    if (shown.ok() && shown->success()) {
      for (absl::string_view line : absl::StrSplit(shown->stdout_text, '\n')) {
        if (absl::StripAsciiWhitespace(line) == "NeedDaemonReload=yes") reload = true;
      }
    }
  }
  if (!reload) return absl::OkStatus();
  Command daemon_reload;
  daemon_reload.argv = {"systemctl", "daemon-reload"};
  daemon_reload.timeout = kSystemctlTimeout;
  absl::StatusOr<std::string> output = RunForOutput(runner_, daemon_reload);
  if (!output.ok()) {
    return absl::Status(output.status().code(),
                        absl::StrCat("systemctl daemon-reload (unit files of ", unit,
                                     " changed): ", output.status().message()));
  }
  unit_files_changed_ = false;
  return absl::OkStatus();
}

absl::StatusOr<CheckResult> ServiceProvider::Check(const v1::Resource& resource) {
  PLUMB_ASSIGN_OR_RETURN(Spec spec, SpecOf(resource));
  PLUMB_ASSIGN_OR_RETURN(State state, Query(resource, spec));
  std::vector<std::string> changes;
  CheckResult check;
  if (spec.running.has_value() && *spec.running != state.active) {
    changes.push_back(*spec.running ? "stopped, to be started" : "running, to be stopped");
    check.apply_refreshes = *spec.running;  // a fresh start already reads the new config
  }
  if (spec.enabled.has_value() && *spec.enabled != state.enabled) {
    changes.push_back(*spec.enabled ? "disabled, to be enabled" : "enabled, to be disabled");
  }
  check.in_sync = changes.empty();
  check.message = absl::StrJoin(changes, "; ");
  return check;
}

absl::StatusOr<ChangeResult> ServiceProvider::Apply(const v1::Resource& resource,
                                                    const CheckResult& check) {
  PLUMB_ASSIGN_OR_RETURN(Spec spec, SpecOf(resource));
  PLUMB_ASSIGN_OR_RETURN(State state, Query(resource, spec));
  std::vector<std::string> done;
  if (spec.enabled.has_value() && *spec.enabled != state.enabled) {
    PLUMB_RETURN_IF_ERROR(Systemctl(*spec.enabled ? "enable" : "disable", resource.name()));
    done.push_back(*spec.enabled ? "enabled" : "disabled");
  }
  if (spec.running.has_value() && *spec.running != state.active) {
    if (*spec.running) PLUMB_RETURN_IF_ERROR(ReloadIfUnitChanged(resource.name()));
    PLUMB_RETURN_IF_ERROR(Systemctl(*spec.running ? "start" : "stop", resource.name()));
    done.push_back(*spec.running ? "started" : "stopped");
  }
  if (done.empty()) return ChangeResult{false, ""};
  return ChangeResult{true, absl::StrJoin(done, "; ")};
}

absl::StatusOr<ChangeResult> ServiceProvider::Refresh(const v1::Resource& resource) {
  PLUMB_ASSIGN_OR_RETURN(Spec spec, SpecOf(resource));
  if (spec.running.has_value() && !*spec.running) return ChangeResult{false, ""};
  if (!spec.running.has_value()) {
    // Unmanaged run state: restart only what is running.
    PLUMB_ASSIGN_OR_RETURN(State state, Query(resource, Spec{}));
    if (!state.active) return ChangeResult{false, ""};
  }
  PLUMB_RETURN_IF_ERROR(ReloadIfUnitChanged(resource.name()));
  PLUMB_RETURN_IF_ERROR(Systemctl("restart", resource.name()));
  return ChangeResult{true, "restarted"};
}

}  // namespace plumb
