#pragma once

// `plumb-agent enroll --server ADDR --token T [--ca-fingerprint SHA256 | --ca FILE]`: makes
// this host's key (unless it has one), sends a CSR with the join token over
// AgentService.Enroll and stores the certificate and CA it gets back under state_dir/tls
// (agent_tls.h). The server is trusted by the CA fingerprint pin, or by the CA file.

#include <ostream>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "agent/agent_config.h"
#include "common/command_line.h"
#include "plumb/v1/agent.pb.h"

namespace plumb {

// Checks what Enroll answered before anything is stored: with a pin (lowercase hex, empty for
// none), the CA it returns must be the pinned one; the certificate must be an agent
// certificate for `node` signed by that CA and valid at `now`. PermissionDenied saying which.
absl::Status CheckEnrollResponse(const v1::EnrollResponse& resp, const std::string& node,
                                 const std::string& pin, absl::Time now);

// Flags `enroll` takes beyond the agent's config keys.
const std::set<std::string>& EnrollFlags();

// Returns the exit status: 0 enrolled, 1 refused or failed, 2 bad usage. One clear line on
// `err` when it fails.
int RunEnroll(const AgentConfig& config, const CommandLine& flags, std::ostream& out,
              std::ostream& err);

}  // namespace plumb
