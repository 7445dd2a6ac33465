#include "agent/providers/user_provider.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/providers/resource_attributes.h"
#include "common/catalog.h"
#include "common/status_macros.h"

namespace plumb {
namespace {

constexpr absl::Duration kTimeout = absl::Minutes(2);

absl::Status ValidateAccountName(const std::string& name) {
  bool ok = !name.empty() && name[0] != '-' && name.size() <= 64;
  for (char c : name) {
    if (c == ':' || c == ',' || c == '/' || absl::ascii_isspace(static_cast<unsigned char>(c)) ||
        absl::ascii_iscntrl(static_cast<unsigned char>(c))) {
      ok = false;
    }
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("invalid account name \"", name, "\""));
}

bool IsNumber(const std::string& text) {
  uint32_t ignored;
  return absl::SimpleAtoi(text, &ignored);
}

Command Cmd(std::vector<std::string> argv) {
  Command command;
  command.argv = std::move(argv);
  command.timeout = kTimeout;
  return command;
}

// The fields of `key` in a getent database, or nullopt if it has no such entry.
absl::StatusOr<std::optional<std::vector<std::string>>> Getent(CommandRunner* runner,
                                                               const std::string& database,
                                                               const std::string& key) {
  PLUMB_ASSIGN_OR_RETURN(CommandResult result, runner->Run(Cmd({"getent", database, key})));
  if (result.exit_code == 2) return std::optional<std::vector<std::string>>();
  if (!result.success()) {
    return absl::FailedPreconditionError(
        absl::StrCat("getent ", database, " ", key, " failed (", result.Describe(), ")"));
  }
  std::string line(absl::StripAsciiWhitespace(result.stdout_text));
  line = line.substr(0, line.find('\n'));
  return std::optional<std::vector<std::string>>(absl::StrSplit(line, ':'));
}

absl::Status RunAccountCommand(CommandRunner* runner, std::vector<std::string> argv) {
  return RunForOutput(runner, Cmd(std::move(argv))).status();
}

}  // namespace

absl::StatusOr<UserSpec> ParseUserSpec(AttributeReader& attrs) {
  UserSpec spec;
  PLUMB_ASSIGN_OR_RETURN(std::string ensure, attrs.Ensure());
  spec.present = ensure == "present";
  PLUMB_ASSIGN_OR_RETURN(std::optional<uint32_t> uid, attrs.Uint("uid"));
  if (uid.has_value()) spec.uid = absl::StrCat(*uid);
  PLUMB_ASSIGN_OR_RETURN(spec.gid, attrs.String("gid"));
  PLUMB_ASSIGN_OR_RETURN(spec.groups, attrs.List("groups"));
  PLUMB_ASSIGN_OR_RETURN(spec.home, attrs.String("home"));
  PLUMB_ASSIGN_OR_RETURN(spec.shell, attrs.String("shell"));
  PLUMB_ASSIGN_OR_RETURN(spec.managehome, attrs.Bool("managehome", false));
  return spec;
}

absl::StatusOr<GroupSpec> ParseGroupSpec(AttributeReader& attrs) {
  GroupSpec spec;
  PLUMB_ASSIGN_OR_RETURN(std::string ensure, attrs.Ensure());
  spec.present = ensure == "present";
  PLUMB_ASSIGN_OR_RETURN(std::optional<uint32_t> gid, attrs.Uint("gid"));
  if (gid.has_value()) spec.gid = absl::StrCat(*gid);
  return spec;
}

struct UserProvider::Plan {
  bool want_present = true;
  bool exists = false;
  bool managehome = false;
  std::vector<std::string> changes;  // for the report
  std::vector<std::string> options;  // for useradd / usermod
};

absl::StatusOr<UserProvider::Plan> UserProvider::PlanFor(const v1::Resource& resource) {
  const std::string& name = resource.name();
  PLUMB_RETURN_IF_ERROR(ValidateAccountName(name));
  AttributeReader attrs(resource);
  PLUMB_ASSIGN_OR_RETURN(UserSpec spec, ParseUserSpec(attrs));
  Plan plan;
  plan.want_present = spec.present;
  PLUMB_ASSIGN_OR_RETURN(auto entry, Getent(runner_, "passwd", name));
  plan.exists = entry.has_value() && entry->size() >= 7;
  if (!plan.want_present) return plan;

  const std::string& uid = spec.uid;
  std::string gid = spec.gid;
  const std::string& home = spec.home;
  const std::string& shell = spec.shell;
  const std::vector<std::string>& groups = spec.groups;
  if (!gid.empty() && !IsNumber(gid)) {
    // A group name: compare by number when the group exists.
    PLUMB_ASSIGN_OR_RETURN(auto group, Getent(runner_, "group", gid));
    if (group.has_value() && group->size() >= 3) gid = (*group)[2];
  }
  auto want = [&](const std::string& desired, size_t field, const char* option, const char* label) {
    if (desired.empty() || (plan.exists && (*entry)[field] == desired)) return;
    plan.options.push_back(option);
    plan.options.push_back(desired);
    if (plan.exists) {
      plan.changes.push_back(absl::StrCat(label, " ", (*entry)[field], " -> ", desired));
    }
  };
  want(uid, 2, "-u", "uid");
  want(gid, 3, "-g", "gid");
  want(home, 5, "-d", "home");
  want(shell, 6, "-s", "shell");
  std::vector<std::string> missing = groups;
  if (plan.exists && !groups.empty()) {
    PLUMB_ASSIGN_OR_RETURN(std::string current, RunForOutput(runner_, Cmd({"id", "-nG", name})));
    std::vector<std::string> have =
        absl::StrSplit(current, absl::ByAnyChar(" \n"), absl::SkipEmpty());
    missing.erase(std::remove_if(missing.begin(), missing.end(),
                                 [&](const std::string& g) {
                                   return std::find(have.begin(), have.end(), g) != have.end();
                                 }),
                  missing.end());
    if (!missing.empty()) {
      plan.changes.push_back(absl::StrCat("not in groups ", absl::StrJoin(missing, ",")));
    }
  }
  if (!missing.empty()) {
    if (plan.exists) plan.options.push_back("-a");
    plan.options.push_back("-G");
    plan.options.push_back(absl::StrJoin(missing, ","));
  }
  plan.managehome = spec.managehome;
  if (plan.exists && spec.managehome) {
    PLUMB_ASSIGN_OR_RETURN(HomeState state, CheckHome(home.empty() ? (*entry)[5] : home,
                                                      uid.empty() ? (*entry)[2] : uid,
                                                      gid.empty() ? (*entry)[3] : gid));
    if (!state.change.empty()) plan.changes.push_back(state.change);
  }
  return plan;
}

absl::StatusOr<UserProvider::HomeState> UserProvider::CheckHome(const std::string& home,
                                                                const std::string& uid,
                                                                const std::string& gid) {
  if (home.empty() || home[0] != '/') {
    return absl::FailedPreconditionError(
        absl::StrCat("managehome: the account's home \"", home, "\" is not an absolute path"));
  }
  HomeState state;
  PLUMB_ASSIGN_OR_RETURN(CommandResult owner,
                         runner_->Run(Cmd({"stat", "-L", "-c", "%u:%g", "--", home})));
  if (!owner.success()) {
    state.missing = true;
    state.change = absl::StrCat("home ", home, " missing, to be created");
    return state;
  }
  std::string current(absl::StripAsciiWhitespace(owner.stdout_text));
  std::string wanted = absl::StrCat(uid, ":", gid);
  // A group named but not created yet: compare by uid alone until it exists.
  bool owned = current == wanted || (!IsNumber(gid) && current.substr(0, current.find(':')) == uid);
  if (!owned) state.change = absl::StrCat("home ", home, " owned by ", current, ", not ", wanted);
  return state;
}

absl::StatusOr<std::string> UserProvider::ManageHome(const std::string& name) {
  PLUMB_ASSIGN_OR_RETURN(auto entry, Getent(runner_, "passwd", name));
  if (!entry.has_value() || entry->size() < 7) {
    return absl::FailedPreconditionError(absl::StrCat("user ", name, " missing after useradd"));
  }
  const std::string &uid = (*entry)[2], &gid = (*entry)[3], &home = (*entry)[5];
  PLUMB_ASSIGN_OR_RETURN(HomeState state, CheckHome(home, uid, gid));
  if (state.change.empty()) return std::string();
  if (state.missing) {
    PLUMB_RETURN_IF_ERROR(RunAccountCommand(runner_, {"mkdir", "-p", "-m", "0755", "--", home}));
  }
  PLUMB_RETURN_IF_ERROR(
      RunAccountCommand(runner_, {"chown", absl::StrCat(uid, ":", gid), "--", home}));
  return absl::StrCat("home ", home, state.missing ? " created" : " chowned");
}

absl::StatusOr<CheckResult> UserProvider::Check(const v1::Resource& resource) {
  PLUMB_ASSIGN_OR_RETURN(Plan plan, PlanFor(resource));
  CheckResult check;
  if (!plan.want_present) {
    if (plan.exists) check.message = "user exists, to be removed";
  } else if (!plan.exists) {
    check.message = "user missing, to be created";
  } else {
    check.message = absl::StrJoin(plan.changes, "; ");
  }
  check.in_sync = check.message.empty();
  return check;
}

absl::StatusOr<ChangeResult> UserProvider::Apply(const v1::Resource& resource,
                                                 const CheckResult& check) {
  PLUMB_ASSIGN_OR_RETURN(Plan plan, PlanFor(resource));
  const std::string& name = resource.name();
  if (!plan.want_present) {
    if (!plan.exists) return ChangeResult{false, ""};
    PLUMB_RETURN_IF_ERROR(RunAccountCommand(runner_, {"userdel", name}));
    return ChangeResult{true, "removed"};
  }
  if (plan.exists && plan.changes.empty() && plan.options.empty()) return ChangeResult{false, ""};
  if (!plan.exists || !plan.options.empty()) {
    std::vector<std::string> argv = {plan.exists ? "usermod" : "useradd"};
    argv.insert(argv.end(), plan.options.begin(), plan.options.end());
    argv.push_back(name);
    PLUMB_RETURN_IF_ERROR(RunAccountCommand(runner_, argv));
  }
  if (plan.managehome) {
    PLUMB_ASSIGN_OR_RETURN(std::string home_done, ManageHome(name));
    if (!plan.exists && !home_done.empty()) return ChangeResult{true, "created, " + home_done};
  }
  return ChangeResult{true, plan.exists ? absl::StrJoin(plan.changes, "; ") : "created"};
}

absl::StatusOr<CheckResult> GroupProvider::Check(const v1::Resource& resource) {
  PLUMB_RETURN_IF_ERROR(ValidateAccountName(resource.name()));
  AttributeReader attrs(resource);
  PLUMB_ASSIGN_OR_RETURN(GroupSpec spec, ParseGroupSpec(attrs));
  const bool want_present = spec.present;
  PLUMB_ASSIGN_OR_RETURN(auto entry, Getent(runner_, "group", resource.name()));
  bool exists = entry.has_value() && entry->size() >= 3;
  const std::string& gid = spec.gid;
  CheckResult check;
  if (!want_present) {
    if (exists) check.message = "group exists, to be removed";
  } else if (!exists) {
    check.message = "group missing, to be created";
  } else if (!gid.empty() && (*entry)[2] != gid) {
    check.message = absl::StrCat("gid ", (*entry)[2], " -> ", gid);
  }
  check.in_sync = check.message.empty();
  return check;
}

absl::StatusOr<ChangeResult> GroupProvider::Apply(const v1::Resource& resource,
                                                  const CheckResult& check) {
  const std::string& name = resource.name();
  PLUMB_RETURN_IF_ERROR(ValidateAccountName(name));
  AttributeReader attrs(resource);
  PLUMB_ASSIGN_OR_RETURN(GroupSpec spec, ParseGroupSpec(attrs));
  const bool want_present = spec.present;
  PLUMB_ASSIGN_OR_RETURN(auto entry, Getent(runner_, "group", name));
  bool exists = entry.has_value() && entry->size() >= 3;
  const std::string& gid = spec.gid;
  if (!want_present) {
    if (!exists) return ChangeResult{false, ""};
    PLUMB_RETURN_IF_ERROR(RunAccountCommand(runner_, {"groupdel", name}));
    return ChangeResult{true, "removed"};
  }
  if (!exists) {
    std::vector<std::string> argv = {"groupadd"};
    if (!gid.empty()) argv.insert(argv.end(), {"-g", gid});
    argv.push_back(name);
    PLUMB_RETURN_IF_ERROR(RunAccountCommand(runner_, argv));
    return ChangeResult{true, "created"};
  }
  if (gid.empty() || (*entry)[2] == gid) return ChangeResult{false, ""};
  PLUMB_RETURN_IF_ERROR(RunAccountCommand(runner_, {"groupmod", "-g", gid, name}));
  return ChangeResult{true, absl::StrCat("gid ", (*entry)[2], " -> ", gid)};
}

}  // namespace plumb
