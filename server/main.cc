// plumb-server: follows a desired-state repository and serves catalogs to agents.

#include <csignal>
#include <iostream>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "common/command_line.h"
#include "common/logging.h"
#include "common/version.h"
#include "server/malloc_tuning.h"
#include "server/security/ca_command.h"
#include "server/plumb_server.h"

namespace {

constexpr char kUsage[] = R"(usage: plumb-server [--config FILE] [flags]
       plumb-server ca init | ca issue-operator NAME | ca fingerprint [--config FILE]

Follows a branch of a desired-state Git repository, compiles one catalog per node and
streams it to agents over gRPC.

flags (each is also a key of the YAML config file):
  --config FILE        YAML config (default: none; /etc/plumb/server.yaml in packages)
  --listen ADDR        gRPC listen address (default 127.0.0.1:7443)
  --http_listen ADDR   HTTP /metrics, /healthz, /readyz, /hooks/git (default 127.0.0.1:7480;
                       empty disables HTTP)
  --repo.url URL       repository to follow (path, file://, git://, https, ssh)
  --repo.branch NAME   branch to follow (default main); config file only: `environments:`,
                       branches mapped to nodes by label (docs/configuration.md)
  --repo.poll DUR      fetch interval (default 30s)
  --repo.timeout DUR   give up on a silent git remote after this long (default 60s)
  --state_dir DIR      SQLite database and git mirror (default /var/lib/plumb-server)
  --tls.ca/--tls.cert/--tls.key FILE   TLS files (default: the built-in CA's, after ca init)
  --insecure           plaintext gRPC on loopback only, for local development and tests
  --insecure-bind-any  with --insecure, listen on non-loopback addresses too
  --tls.san NAME,...   names/IPs in the server certificate `ca init` issues
                       (default localhost,127.0.0.1)
  --tls.agent_cert_lifetime DUR   enrolled agents' certificates (default 30d; renewed at 2/3)
  --operator_tokens T,...         bearer tokens operators may use (config: a list; entries may
                                  be sha256:<hex of the token>)
  --webhook_secret S   HMAC secret of POST /hooks/git (X-Hub-Signature-256); unset: disabled
  --retention.reports_per_node N   reports kept per node (default 500; 0: no limit)
  --retention.max_age DUR          reports and resource events kept (default 30d; 0: no limit)
  --log_level LEVEL    debug, info, warn, error (default info)
  --version            print the version and exit
)";

// Checks the loaded configuration and applies its process-wide parts (log level, warnings).
// Returns the exit status to stop with, or -1 to go on.
int PrepareConfig(const plumb::ServerConfig& config) {
  if (!config.insecure && (config.tls.cert.empty() || config.tls.key.empty())) {
    std::cerr << "plumb-server: no TLS configured: run `plumb-server ca init` (built-in CA) or "
                 "set tls.cert and tls.key, or pass --insecure for local development\n";
    return 1;
  }
  plumb::LogLevel level;
  if (plumb::ParseLogLevel(config.log_level, &level)) plumb::SetLogLevel(level);
  if (!config.insecure && config.tls.ca.empty()) {
    plumb::LogWarning("tls.ca is not set: client certificates are not requested, so agents "
                      "cannot connect; operators need a bearer token");
  }
  if (config.insecure) plumb::LogWarning("--insecure: gRPC is plaintext; for local use only");
  return -1;
}

// Runs the server until SIGTERM or SIGINT.
int Serve(const plumb::ServerConfig& config) {
  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex deadlock detection on: every
  // lock then updates a process-wide lock graph under one global lock. With 10,000 agent
  // sessions (one mutex each) that was 9.8% of the server's CPU samples (bench/fleet.sh 10000
  // under perf; docs/benchmarks.md). Lock order is checked by clang -Wthread-safety instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Per-connection TLS buffers resident only where written (server/malloc_tuning.h).
  if (!plumb::TuneMallocForManyConnections()) plumb::LogWarning("cannot tune malloc (mallopt)");

  // Block the stop signals in every thread; one thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  plumb::MetricsRegistry metrics;  // outlives the server (declared first, destroyed last)
  auto server = plumb::PlumbServer::Start(config, &metrics);
  if (!server.ok()) {
    std::cerr << "plumb-server: " << server.status().message() << "\n";
    return 1;
  }
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    plumb::LogInfo("stopping", {{"signal", sig}});
    (*server)->Shutdown();
  });
  (*server)->Wait();
  waiter.join();
  server->reset();
  plumb::LogInfo("stopped");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto flags = plumb::CommandLine::Parse(argc, argv, plumb::ServerBoolFlags());
  if (!flags.ok()) {
    std::cerr << "plumb-server: " << flags.status().message() << "\n" << kUsage;
    return 2;
  }
  if (flags->GetBool("help")) {
    std::cout << kUsage;
    return 0;
  }
  if (flags->GetBool("version")) {
    std::cout << "plumb-server " << plumb::kVersion << " (" << plumb::kGitCommit << ")\n";
    return 0;
  }
  if (!flags->positional().empty() && flags->positional()[0] == "ca") {
    return plumb::RunCaCommand(*flags, std::cout, std::cerr);
  }
  if (!flags->positional().empty()) {
    std::cerr << "plumb-server: unexpected argument \"" << flags->positional()[0] << "\"\n"
              << kUsage;
    return 2;
  }
  auto config = plumb::LoadServerConfig(*flags);
  if (!config.ok()) {
    std::cerr << "plumb-server: " << config.status().message() << "\n";
    return 2;
  }
  int status = PrepareConfig(*config);
  return status >= 0 ? status : Serve(*config);
}
