#include "ctl/ctl_connection.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "common/config_file.h"
#include "common/secure_files.h"
#include "common/status_macros.h"

namespace plumb {
namespace {

const std::set<std::string>& Keys() {
  static const auto* keys =
      new std::set<std::string>{"server", "ca", "cert", "key", "token", "insecure"};
  return *keys;
}

std::string DefaultConfigPath() {
  if (const char* explicit_path = getenv("PLUMBCTL_CONFIG")) return explicit_path;
  if (const char* xdg = getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg != '\0') {
    return absl::StrCat(xdg, "/plumb/plumbctl.yaml");
  }
  const char* home = getenv("HOME");
  return home != nullptr ? absl::StrCat(home, "/.config/plumb/plumbctl.yaml") : "";
}

}  // namespace

absl::StatusOr<CtlConnection> ResolveConnection(const CommandLine& flags) {
  ConfigValues file;
  CtlConnection c;
  std::string path = flags.Get("config");
  if (path.empty()) {
    path = DefaultConfigPath();
    if (!path.empty() && !FileExists(path)) path.clear();
  }
  if (!path.empty()) {
    PLUMB_ASSIGN_OR_RETURN(file, ConfigValues::LoadFile(path, Keys(), {}));
    c.config_path = path;
  }
  auto pick = [&](const std::string& key, const char* env, const std::string& fallback) {
    if (flags.Has(key)) return flags.Get(key);
    if (env != nullptr) {
      const char* value = getenv(env);
      if (value != nullptr && *value != '\0') return std::string(value);
    }
    return file.Get(key, fallback);
  };
  c.server = pick("server", "PLUMB_SERVER", c.server);
  c.tls = {pick("ca", nullptr, ""), pick("cert", nullptr, ""), pick("key", nullptr, "")};
  c.token = pick("token", "PLUMB_TOKEN", "");
  if (flags.Has("insecure")) {
    c.insecure = flags.GetBool("insecure");
  } else {
    PLUMB_ASSIGN_OR_RETURN(c.insecure, file.GetBool("insecure", false));
  }
  return c;
}

absl::Status CheckHasCredential(const CtlConnection& c) {
  if (c.insecure || !c.token.empty() || (!c.tls.cert.empty() && !c.tls.key.empty())) {
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      "no operator credential for ", c.server,
      ": pass --cert/--key (from plumb-server ca issue-operator) or --token, with --ca, or set "
      "them in ~/.config/plumb/plumbctl.yaml (--insecure only for a plaintext local server)"));
}

}  // namespace plumb
