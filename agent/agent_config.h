#pragma once

// plumb-agent's configuration: the YAML file of DESIGN.md ("Agent") with every key also a flag
// (`--server`, `--node`, `--label k=v`, `--fact k=v`, `--root`, ...).

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/command_line.h"
#include "common/grpc_credentials.h"

namespace plumb {

struct AgentConfig {
  // One address, or several separated by commas (replicas): the agent tries them in turn.
  std::string server = "127.0.0.1:7443";
  std::string node;  // default: hostname
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> facts;  // extra facts, override gathered ones
  std::string state_dir = "/var/lib/plumb";
  std::string root = "/";
  absl::Duration interval = absl::Minutes(5);
  absl::Duration splay = absl::Seconds(30);
  TlsFiles tls;
  bool insecure = false;
  bool once = false;
  bool noop = false;
  std::string log_level = "info";
};

// Loads --config (if given) and applies flags over it. InvalidArgument with file:line:col or the
// flag's name on bad input.
// `extra_flags` are accepted too (a subcommand's own, like enroll's --token). tls.* default to
// the files `plumb-agent enroll` wrote (agent_tls.h) once they exist, unless --insecure.
absl::StatusOr<AgentConfig> LoadAgentConfig(const CommandLine& flags,
                                            const std::set<std::string>& extra_flags = {});

const std::set<std::string>& AgentBoolFlags();

// The addresses in `server` (comma-separated, blanks around them ignored), in order.
std::vector<std::string> ServerList(const std::string& server);

// Every scalar key of the config file (each is also a flag), and the free-form map keys
// (`labels`, `facts`); docs/configuration.md lists the same.
const std::set<std::string>& AgentConfigKeys();
const std::set<std::string>& AgentConfigMapKeys();

}  // namespace plumb
