#include "agent/providers/exec_provider.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/providers/resource_attributes.h"
#include "common/catalog.h"
#include "common/status_macros.h"

namespace plumb {
namespace {

constexpr size_t kOutputInMessage = 2048;
constexpr absl::Duration kDefaultTimeout = absl::Seconds(300);

std::string Display(const std::vector<std::string>& argv) {
  if (argv.size() == 3 && argv[0] == "/bin/sh" && argv[1] == "-c") return argv[2];
  return absl::StrJoin(argv, " ");
}

}  // namespace

absl::StatusOr<absl::Duration> ParseTimeout(const std::string& text) {
  absl::StatusOr<absl::Duration> d = ParseDurationText(text);
  if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat("timeout ", d.status().message()));
  return *d == absl::ZeroDuration() ? absl::InfiniteDuration() : *d;
}

absl::StatusOr<ExecSpec> ParseExecSpec(AttributeReader& attrs) {
  ExecSpec spec;
  PLUMB_ASSIGN_OR_RETURN(spec.command, attrs.Command("command"));
  PLUMB_ASSIGN_OR_RETURN(spec.cwd, attrs.String("cwd"));
  PLUMB_ASSIGN_OR_RETURN(spec.env, attrs.Map("env"));
  PLUMB_ASSIGN_OR_RETURN(spec.timeout, attrs.Duration("timeout"));
  PLUMB_ASSIGN_OR_RETURN(spec.creates, attrs.String("creates"));
  PLUMB_ASSIGN_OR_RETURN(spec.onlyif, attrs.Command("onlyif"));
  PLUMB_ASSIGN_OR_RETURN(spec.unless, attrs.Command("unless"));
  PLUMB_ASSIGN_OR_RETURN(spec.refreshonly, attrs.Bool("refreshonly", false));
  PLUMB_ASSIGN_OR_RETURN(spec.sensitive, attrs.Bool("sensitive", false));
  return spec;
}

// The parsed attributes of an exec resource, resolved against the root.
struct ExecProvider::Spec {
  Command command;
  std::vector<std::string> onlyif;
  std::vector<std::string> unless;
  std::string creates;
  bool refreshonly = false;
};

absl::StatusOr<ExecProvider::Spec> ExecProvider::SpecOf(const v1::Resource& resource) {
  AttributeReader attrs(resource);
  PLUMB_ASSIGN_OR_RETURN(ExecSpec parsed, ParseExecSpec(attrs));
  Spec spec;
  spec.command.argv = std::move(parsed.command);
  if (spec.command.argv.empty()) {
    // `exec: "some command"` with no command attribute runs the name.
    spec.command.argv = ShellArgv(resource.name());
  }
  PLUMB_ASSIGN_OR_RETURN(spec.command.cwd, fs_->HostPath(parsed.cwd.empty() ? "/" : parsed.cwd));
  spec.command.env = std::move(parsed.env);
  spec.command.env["PLUMB_ROOT"] = root_;
  spec.command.timeout = kDefaultTimeout;
  if (parsed.timeout.has_value()) {
    spec.command.timeout =
        *parsed.timeout == absl::ZeroDuration() ? absl::InfiniteDuration() : *parsed.timeout;
  }
  spec.onlyif = std::move(parsed.onlyif);
  spec.unless = std::move(parsed.unless);
  spec.creates = std::move(parsed.creates);
  spec.refreshonly = parsed.refreshonly;
  return spec;
}

absl::StatusOr<std::string> ExecProvider::GuardsSay(const v1::Resource& resource,
                                                    const Spec& spec) {
  if (!spec.creates.empty()) {
    PLUMB_ASSIGN_OR_RETURN(FileStat stat, fs_->Stat(spec.creates));
    if (stat.type != FileType::kMissing) return absl::StrCat("creates ", spec.creates, " exists");
  }
  for (const auto* guard : {&spec.onlyif, &spec.unless}) {
    if (guard->empty()) continue;
    Command check = spec.command;
    check.argv = *guard;
    absl::StatusOr<CommandResult> result = runner_->Run(check);
    if (!result.ok()) {
      return absl::Status(result.status().code(),
                          absl::StrCat(guard == &spec.onlyif ? "onlyif" : "unless", ": ",
                                       result.status().message()));
    }
    if (guard == &spec.onlyif && !result->success()) {
      return absl::StrCat("onlyif: ", result->Describe());
    }
    if (guard == &spec.unless && result->success()) return std::string("unless: exit 0");
  }
  return std::string();
}

absl::StatusOr<CheckResult> ExecProvider::Check(const v1::Resource& resource) {
  PLUMB_ASSIGN_OR_RETURN(Spec spec, SpecOf(resource));
  CheckResult check;
  if (spec.refreshonly) return check;  // runs only through Refresh
  PLUMB_ASSIGN_OR_RETURN(std::string skip, GuardsSay(resource, spec));
  if (!skip.empty()) return check;
  check.in_sync = false;
  check.apply_refreshes = true;
  check.message = resource.sensitive()
                      ? "command to run"
                      : absl::StrCat("command to run: ", Display(spec.command.argv));
  return check;
}

absl::StatusOr<ChangeResult> ExecProvider::RunCommand(const v1::Resource& resource,
                                                      const Spec& spec) {
  PLUMB_ASSIGN_OR_RETURN(CommandResult result, runner_->Run(spec.command));
  std::string shown = resource.sensitive() ? "command" : Display(spec.command.argv);
  std::string output;
  if (!resource.sensitive()) {
    std::string out = OutputTail(result.stdout_text, kOutputInMessage);
    std::string err = OutputTail(result.stderr_text, kOutputInMessage);
    if (!out.empty()) absl::StrAppend(&output, "\nstdout:\n", out);
    if (!err.empty()) absl::StrAppend(&output, "\nstderr:\n", err);
  }
  if (result.timed_out) {
    return absl::DeadlineExceededError(absl::StrCat(shown, ": timed out after ",
                                                    absl::FormatDuration(spec.command.timeout),
                                                    "; killed its process group", output));
  }
  if (!result.success()) {
    return absl::FailedPreconditionError(
        absl::StrCat(shown, ": failed (", result.Describe(), ")", output));
  }
  return ChangeResult{true, absl::StrCat("ran ", shown, " (exit 0)", output)};
}

absl::StatusOr<ChangeResult> ExecProvider::Apply(const v1::Resource& resource,
                                                 const CheckResult& check) {
  PLUMB_ASSIGN_OR_RETURN(Spec spec, SpecOf(resource));
  return RunCommand(resource, spec);
}

absl::StatusOr<ChangeResult> ExecProvider::Refresh(const v1::Resource& resource) {
  PLUMB_ASSIGN_OR_RETURN(Spec spec, SpecOf(resource));
  PLUMB_ASSIGN_OR_RETURN(std::string skip, GuardsSay(resource, spec));
  if (!skip.empty()) return ChangeResult{false, absl::StrCat("not run: ", skip)};
  return RunCommand(resource, spec);
}

}  // namespace plumb
