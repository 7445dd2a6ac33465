#pragma once

// `plumb-agent enroll --server ADDR --token T [--ca-fingerprint SHA256 | --ca FILE]`: makes
// this host's key (unless it has one), sends a CSR with the join token over
// AgentService.Enroll and stores the certificate and CA it gets back under state_dir/tls
// (agent_tls.h). The server is trusted by the CA fingerprint pin, or by the CA file.

#include <ostream>

#include "agent/agent_config.h"
#include "common/command_line.h"

namespace plumb {

// Flags `enroll` takes beyond the agent's config keys.
const std::set<std::string>& EnrollFlags();

// Returns the exit status: 0 enrolled, 1 refused or failed, 2 bad usage. One clear line on
// `err` when it fails.
int RunEnroll(const AgentConfig& config, const CommandLine& flags, std::ostream& out,
              std::ostream& err);

}  // namespace plumb
