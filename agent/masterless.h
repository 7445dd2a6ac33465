#pragma once

// `plumb-agent apply REPO_DIR`: compiles a desired-state checkout locally and applies this
// node's catalog, with no server (Puppet's `puppet apply`).

#include <string>

#include "agent/agent_config.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

// Returns the process exit status: 0 converged, 1 a resource failed, 2 the repository does not
// compile (errors printed to stderr, one per line with file:line:col).
// The report goes to stdout: a table (`json` false) or protobuf JSON.
int ApplyCheckout(const std::string& repo_dir, const AgentConfig& config, bool json);

}  // namespace plumb
