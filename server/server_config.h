#pragma once

// plumb-server's configuration: the YAML file of DESIGN.md ("Server") with every key also a
// flag (`--repo.url`, `--state_dir`, ...).

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/command_line.h"
#include "common/grpc_credentials.h"
#include "server/git/environments.h"
#include "server/security/security_config.h"

namespace plumb {

inline constexpr char kDefaultHttpListen[] = "127.0.0.1:7480";

struct ServerConfig {
  std::string listen = "127.0.0.1:7443";
  // Empty disables HTTP. LoadServerConfig defaults it to kDefaultHttpListen; a ServerConfig
  // built in code (tests, benchmarks) has no HTTP unless asked, so it never collides on 7480.
  std::string http_listen;
  std::string repo_url;
  std::string repo_branch = "main";
  absl::Duration repo_poll = absl::Seconds(30);
  // Bounds connecting to the remote and each wait for it to send or take data.
  absl::Duration repo_timeout = absl::Seconds(60);
  std::string state_dir = "/var/lib/plumb-server";
  // store: {url, password_file}: empty url keeps fleet state in SQLite under state_dir; a
  // postgresql:// URL (or libpq key=value string) puts it in PostgreSQL (docs/postgresql.md).
  std::string store_url;
  // A file whose first line is the database password (else the URL's, PGPASSWORD, ~/.pgpass).
  std::string store_password_file;
  TlsFiles tls;
  bool insecure = false;
  // insecure_bind_any, tls.san, tls.agent_cert_lifetime, operator_tokens (security_config.h).
  SecuritySettings security;
  std::string log_level = "info";
  // The web console (HTTPS, the server's certificate): "host:port"; empty disables it.
  std::string console_listen;
  // How long a console sign-in lasts.
  absl::Duration console_session_lifetime = absl::Hours(12);
  // Shared secret of POST /hooks/git (X-Hub-Signature-256); empty disables the webhook.
  std::string webhook_secret;
  // retention: {reports_per_node, max_age}; 0 disables that limit.
  int retention_reports_per_node = 500;
  absl::Duration retention_max_age = absl::Hours(24 * 30);
  // nodes: {stale_after}: a node neither connected nor seen for this long is not compiled when
  // a revision is validated (it cannot hold back the fleet); 0 compiles every known node.
  absl::Duration nodes_stale_after = absl::Hours(24 * 7);
  // environments: branch -> nodes (server/git/environments.h). Config file only (no flag);
  // unset: one line following repo_branch for every node. Empty here (a ServerConfig built in
  // code): the same.
  Environments environments;
};

// Loads --config (if given) and applies flags over it. InvalidArgument with file:line:col or the
// flag's name on bad input; unknown flags are errors.
// `require_repo` false: for `plumb-server ca ...`, which needs no repository.
absl::StatusOr<ServerConfig> LoadServerConfig(const CommandLine& flags, bool require_repo = true);

// Flags that take no value.
const std::set<std::string>& ServerBoolFlags();

// Every key of the config file (each is also a flag); docs/configuration.md lists the same.
const std::set<std::string>& ServerConfigKeys();

}  // namespace plumb
