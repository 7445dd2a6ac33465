#pragma once

// Where an enrolled agent keeps its identity: state_dir/tls/agent.key (0600, made on this host
// and never sent anywhere), agent.pem (its certificate, CN = node name) and ca.pem (the CA
// it trusts). The agent's tls.* settings default to these files once they exist.

#include <string>

#include "common/grpc_credentials.h"

namespace plumb {

inline std::string AgentTlsDir(const std::string& state_dir) { return state_dir + "/tls"; }
inline TlsFiles EnrolledTlsFiles(const std::string& state_dir) {
  std::string dir = AgentTlsDir(state_dir);
  return {dir + "/ca.pem", dir + "/agent.pem", dir + "/agent.key"};
}

}  // namespace plumb
