#pragma once

// The `exec` resource: a command (sh -c string or argv list) with cwd, env, timeout and the
// guards creates, onlyif, unless; refreshonly execs run only when notified.

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/host/command_runner.h"
#include "agent/host/filesystem.h"
#include "agent/providers/provider.h"
#include "agent/providers/resource_attributes.h"

namespace plumb {

// The attributes of an exec resource, typed, before they meet the host.
struct ExecSpec {
  std::vector<std::string> command;  // argv; a string command is /bin/sh -c
  std::string cwd;                   // "" when unset
  std::map<std::string, std::string> env;
  std::optional<absl::Duration> timeout;  // as written: 0 means none
  std::string creates;
  std::vector<std::string> onlyif;
  std::vector<std::string> unless;
  bool refreshonly = false;
  bool sensitive = false;
};
// Reads every attribute common/resource_types.cc declares for an exec.
absl::StatusOr<ExecSpec> ParseExecSpec(AttributeReader& attrs);

// Runs commands through a CommandRunner. Paths (cwd, creates) are managed paths under the
// root; commands see PLUMB_ROOT in their environment. An exec is "out of sync" when its guards
// say it should run; a non-zero exit or a timeout is a failure. Thread-compatible.
class ExecProvider : public Provider {
 public:
  // `fs` and `runner` are not owned and must outlive the provider.
  ExecProvider(Filesystem* fs, CommandRunner* runner, std::string root)
      : fs_(fs), runner_(runner), root_(std::move(root)) {}

  absl::StatusOr<CheckResult> Check(const v1::Resource& resource) override;
  absl::StatusOr<ChangeResult> Apply(const v1::Resource& resource,
                                     const CheckResult& check) override;
  bool CanRefresh(const v1::Resource& resource) const override { return true; }
  // Runs the command if its guards allow (whether or not it is refreshonly).
  absl::StatusOr<ChangeResult> Refresh(const v1::Resource& resource) override;

 private:
  struct Spec;
  absl::StatusOr<Spec> SpecOf(const v1::Resource& resource);
  // "" when the command should run, else why not ("creates /x exists").
  absl::StatusOr<std::string> GuardsSay(const v1::Resource& resource, const Spec& spec);
  absl::StatusOr<ChangeResult> RunCommand(const v1::Resource& resource, const Spec& spec);

  Filesystem* fs_;
  CommandRunner* runner_;
  const std::string root_;
};

// Parses an exec timeout: seconds ("30") or a duration ("30s", "5m", "1h30m"); "0" means none.
absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text);

}  // namespace plumb
