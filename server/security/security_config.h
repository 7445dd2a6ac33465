#pragma once

// The security part of plumb-server's configuration (docs/security.md): TLS defaults from the
// built-in CA, the server certificate's SANs, operator bearer tokens, agent certificate
// lifetime, and what --insecure may bind to.

#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/command_line.h"
#include "common/config_file.h"

namespace plumb {

struct ServerConfig;

// Thread-compatible value type.
struct SecuritySettings {
  // --insecure binds loopback only unless this is set.
  bool insecure_bind_any = false;
  // tls.san: names and addresses in the server certificate `ca init` issues.
  std::vector<std::string> tls_san = {"localhost", "127.0.0.1"};
  // operator_tokens, as configured: each a token or "sha256:<hex of the token>".
  std::vector<std::string> operator_tokens;
  // tls.agent_cert_lifetime: how long enrolled agents' certificates last (renewed at 2/3).
  absl::Duration agent_cert_lifetime = absl::Hours(24 * 30);
  // Where the built-in CA lives: state_dir/ca.
  std::string ca_dir;
};

// The config keys of the security settings that take lists.
const std::set<std::string>& SecurityListKeys();
// Flags that take no value.
const std::set<std::string>& SecurityBoolFlags();

// Reads the security settings into `config->security`, defaults `config->tls` to the built-in
// CA's files when tls: is not configured and `ca init` made them, and with --insecure moves a
// non-loopback `listen` to 127.0.0.1 (unless insecure_bind_any). Call after state_dir,
// listen, tls and insecure are set. InvalidArgument naming the key on bad input.
absl::Status ApplySecurityConfig(const ConfigValues& values, const CommandLine& flags,
                                 ServerConfig* config);

// True if the host part of `listen` (host:port) is a loopback address or "localhost".
bool IsLoopbackListen(const std::string& listen);

}  // namespace plumb
