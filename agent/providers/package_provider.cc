#include "agent/providers/package_provider.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/catalog.h"
#include "common/status_macros.h"

namespace plumb {
namespace {

constexpr absl::Duration kQueryTimeout = absl::Minutes(1);
constexpr absl::Duration kAptTimeout = absl::Minutes(30);
// How long apt-get waits for the dpkg lock another apt or dpkg run holds (unattended-upgrades
// at boot, an operator's apt-get) before giving up; apt polls the lock itself
// (DPkg::Lock::Timeout, apt >= 1.9.11, Debian 11+). Without it apt-get fails at once with
// "Could not get lock /var/lib/dpkg/lock-frontend".
constexpr int kDpkgLockWaitSeconds = 300;

absl::StatusOr<std::string> EnsureOf(const v1::Resource& resource) {
  AttributeReader attrs(resource);
  PLUMB_ASSIGN_OR_RETURN(PackageSpec spec, ParsePackageSpec(attrs));
  return spec.ensure;
}

}  // namespace

absl::StatusOr<PackageSpec> ParsePackageSpec(AttributeReader& attrs) {
  PackageSpec spec;
  PLUMB_ASSIGN_OR_RETURN(spec.ensure, attrs.Ensure());
  if (spec.ensure == "installed") spec.ensure = "present";
  if (spec.ensure == "removed") spec.ensure = "absent";
  return spec;
}

namespace {

bool IsVersion(const std::string& ensure) {
  return ensure != "present" && ensure != "absent" && ensure != "purged";
}

absl::Status ValidateName(const std::string& name) {
  // Debian package names (with an optional :arch); also keeps option-like names off argv.
  bool ok = !name.empty() && absl::ascii_isalnum(static_cast<unsigned char>(name[0]));
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-' && c != '.' &&
        c != ':') {
      ok = false;
    }
  }
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("invalid package name \"", name, "\""));
}

}  // namespace

absl::StatusOr<PackageProvider::Installed> PackageProvider::Query(const std::string& name) {
  Command query;
  query.argv = {"dpkg-query", "-W", "-f=${Status}\t${Version}\n", name};
  query.timeout = kQueryTimeout;
  PLUMB_ASSIGN_OR_RETURN(CommandResult result, runner_->Run(query));
  Installed installed;
  if (result.exit_code == 1) return installed;  // dpkg has never heard of it
  if (!result.success()) {
    return absl::FailedPreconditionError(absl::StrCat("dpkg-query failed (", result.Describe(),
                                                      "): ", OutputTail(result.stderr_text, 512)));
  }
  std::vector<std::string> fields =
      absl::StrSplit(absl::StripAsciiWhitespace(result.stdout_text), '\t');
  std::vector<std::string> status = absl::StrSplit(fields[0], ' ', absl::SkipEmpty());
  if (status.size() != 3) {
    return absl::InternalError(
        absl::StrCat("unexpected dpkg-query output: ", OutputTail(result.stdout_text, 256)));
  }
  installed.installed = status[2] == "installed";
  installed.config_files = status[2] == "config-files";
  if (fields.size() > 1) installed.version = fields[1];
  return installed;
}

absl::StatusOr<CheckResult> PackageProvider::Check(const v1::Resource& resource) {
  PLUMB_RETURN_IF_ERROR(ValidateName(resource.name()));
  PLUMB_ASSIGN_OR_RETURN(std::string ensure, EnsureOf(resource));
  PLUMB_ASSIGN_OR_RETURN(Installed current, Query(resource.name()));
  CheckResult check;
  if (ensure == "present") {
    if (!current.installed) check.message = "not installed, to be installed";
  } else if (ensure == "absent") {
    if (current.installed) {
      check.message = absl::StrCat("installed (", current.version, "), to be removed");
    }
  } else if (ensure == "purged") {
    if (current.installed || current.config_files) check.message = "present, to be purged";
  } else if (!current.installed) {
    check.message = absl::StrCat("not installed, to be installed at ", ensure);
  } else if (current.version != ensure) {
    check.message = absl::StrCat("version ", current.version, " -> ", ensure);
  }
  check.in_sync = check.message.empty();
  return check;
}

absl::StatusOr<ChangeResult> PackageProvider::Apply(const v1::Resource& resource,
                                                    const CheckResult& check) {
  PLUMB_RETURN_IF_ERROR(ValidateName(resource.name()));
  const std::string& name = resource.name();
  PLUMB_ASSIGN_OR_RETURN(std::string ensure, EnsureOf(resource));
  Command apt;
  apt.env["DEBIAN_FRONTEND"] = "noninteractive";
  apt.timeout = kAptTimeout;
  apt.argv = {"apt-get", "-y", "-q", "-o",
              absl::StrCat("DPkg::Lock::Timeout=", kDpkgLockWaitSeconds)};
  std::string done;
  if (ensure == "absent" || ensure == "purged") {
    apt.argv.push_back(ensure == "absent" ? "remove" : "purge");
    apt.argv.push_back(name);
    done = ensure == "absent" ? "removed" : "purged";
  } else {
    for (const char* option : {"-o", "Dpkg::Options::=--force-confdef", "-o",
                               "Dpkg::Options::=--force-confold", "install"}) {
      apt.argv.push_back(option);
    }
    if (IsVersion(ensure)) {
      apt.argv.push_back("--allow-downgrades");
      apt.argv.push_back(absl::StrCat(name, "=", ensure));
      done = absl::StrCat("installed ", ensure);
    } else {
      apt.argv.push_back(name);
      done = "installed";
    }
  }
  PLUMB_ASSIGN_OR_RETURN(std::string output, RunForOutput(runner_, apt));
  if (!IsVersion(ensure) && ensure == "present") {
    absl::StatusOr<Installed> now = Query(name);
    if (now.ok() && !now->version.empty()) absl::StrAppend(&done, " ", now->version);
  }
  return ChangeResult{true, done};
}

}  // namespace plumb
