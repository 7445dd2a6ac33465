#pragma once

// plumb-server's configuration: the YAML file of DESIGN.md ("Server") with every key also a
// flag (`--repo.url`, `--state_dir`, ...).

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/command_line.h"
#include "common/grpc_credentials.h"

namespace plumb {

struct ServerConfig {
  std::string listen = "127.0.0.1:7443";
  std::string http_listen = "127.0.0.1:7480";
  std::string repo_url;
  std::string repo_branch = "main";
  absl::Duration repo_poll = absl::Seconds(30);
  std::string state_dir = "/var/lib/plumb-server";
  TlsFiles tls;
  bool insecure = false;
  std::string log_level = "info";
};

// Loads --config (if given) and applies flags over it. InvalidArgument with file:line:col or the
// flag's name on bad input; unknown flags are errors.
absl::StatusOr<ServerConfig> LoadServerConfig(const CommandLine& flags);

// Flags that take no value.
const std::set<std::string>& ServerBoolFlags();

}  // namespace plumb
