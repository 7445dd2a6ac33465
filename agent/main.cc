// plumb-agent: keeps this host true to its catalog from plumb-server.

#include <malloc.h>

#include <csignal>
#include <iostream>
#include <thread>
#include <vector>

#include "agent/agent.h"
#include "agent/agent_config.h"
#include "agent/engine/apply_engine.h"
#include "agent/cert_renewer.h"
#include "agent/channel_factory.h"
#include "agent/enroll.h"
#include "agent/host/command_runner.h"
#include "agent/masterless.h"
#include "common/command_line.h"
#include "common/logging.h"
#include "common/version.h"

namespace {

constexpr char kUsage[] = R"(usage: plumb-agent [--config FILE] [flags]
       plumb-agent apply REPO_DIR [--node N] [--label k=v] [--fact k=v] [--root DIR] [--noop] [-o json]
       plumb-agent enroll --server ADDR --token TOKEN [--ca-fingerprint SHA256 | --ca FILE]
                          [--node N] [--state_dir DIR]

Applies this node's catalog from plumb-server and keeps the host converged.

flags (each is also a key of the YAML config file):
  --config FILE      YAML config (/etc/plumb/agent.yaml in packages)
  --server ADDR      plumb-server address, or several: A,B (default 127.0.0.1:7443)
  --node NAME        node name (default: hostname)
  --label k=v        a label (repeatable); config key labels: {k: v}
  --fact k=v         an extra fact (repeatable); config key facts: {k: v}
  --state_dir DIR    cached catalog, blobs, report queue (default /var/lib/plumb)
  --root DIR         prefix for every managed path (default /)
  --interval DUR     re-check and repair at least this often (default 5m)
  --splay DUR        random extra delay per interval (default 30s)
  --tls.ca/--tls.cert/--tls.key FILE   TLS files (default: state_dir/tls/{ca,agent}.pem and
                     agent.key, written by `plumb-agent enroll`; renewed at 2/3 of their life)
  --insecure         plaintext gRPC, for local development and tests only
  --once             one run, then exit (0 converged, 1 failure or server unreachable)
  --noop             report what would change, change nothing
  --log_level LEVEL  debug, info, warn, error (default info)
  --version          print the version and exit
)";

}  // namespace

// EX_CONFIG: the daemon cannot run before the node is enrolled. The systemd unit does not
// restart on it (RestartPreventExitStatus=78), so an enabled, unenrolled agent stays stopped.
constexpr int kExitNotEnrolled = 78;

// The daemon (or, with --once, one run): until SIGTERM or SIGINT.
int RunAgent(const plumb::AgentConfig& config) {
  // gRPC's threads would each get a malloc arena of their own (up to 8 per core), each keeping
  // freed memory resident; the daemon allocates little outside a run, so two arenas do.
  mallopt(M_ARENA_MAX, 2);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  plumb::SystemClock clock;
  std::unique_ptr<plumb::CommandRunner> runner = plumb::NewRealCommandRunner();
  std::unique_ptr<plumb::ChannelFactory> channels = plumb::NewServerChannelFactory(config);
  auto agent = plumb::Agent::Create(config, runner.get(), &clock, channels.get());
  if (!agent.ok()) {
    std::cerr << "plumb-agent: " << agent.status().message() << "\n";
    return 1;
  }
  plumb::CertRenewer renewer(config, &clock);
  if (config.once) {
    absl::Status renewed = renewer.RenewIfDue();
    if (!renewed.ok()) plumb::LogWarning("certificate renewal failed", {{"error", renewed.message()}});
    return (*agent)->RunOnce();
  }
  renewer.Start();

  std::thread waiter([&] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    plumb::LogInfo("stopping", {{"signal", sig}});
    (*agent)->Stop();
  });
  plumb::LogInfo("plumb-agent started", {{"node", config.node}, {"server", config.server},
                                         {"root", config.root}});
  (*agent)->RunDaemon();
  waiter.join();
  plumb::LogInfo("stopped");
  return 0;
}

int main(int argc, char** argv) {
  // "-o json" (masterless apply's output format) is the one short flag.
  auto flags = plumb::CommandLine::Parse(argc, argv, plumb::AgentBoolFlags(), {{"-o", "output"}});
  if (!flags.ok()) {
    std::cerr << "plumb-agent: " << flags.status().message() << "\n" << kUsage;
    return 2;
  }
  if (flags->GetBool("help")) {
    std::cout << kUsage;
    return 0;
  }
  if (flags->GetBool("version")) {
    std::cout << "plumb-agent " << plumb::kVersion << " (" << plumb::kGitCommit << ")\n";
    return 0;
  }
  const auto& args = flags->positional();
  bool masterless = !args.empty() && args[0] == "apply";
  bool enroll = !args.empty() && args[0] == "enroll";
  if ((!args.empty() && !masterless && !enroll) || (masterless && args.size() != 2) ||
      (enroll && args.size() != 1)) {
    std::cerr << "plumb-agent: unexpected arguments\n" << kUsage;
    return 2;
  }
  auto config = plumb::LoadAgentConfig(*flags, enroll       ? plumb::EnrollFlags()
                                               : masterless ? std::set<std::string>{"output"}
                                                            : std::set<std::string>{});
  if (!config.ok()) {
    std::cerr << "plumb-agent: " << config.status().message() << "\n";
    return 2;
  }
  plumb::LogLevel level;
  if (plumb::ParseLogLevel(config->log_level, &level)) plumb::SetLogLevel(level);
  if (masterless) {
    std::string output = flags->Get("output", "table");
    if (output != "table" && output != "json") {
      std::cerr << "plumb-agent: -o must be table or json, got \"" << output << "\"\n";
      return 2;
    }
    return plumb::ApplyCheckout(args[1], *config, output == "json");
  }
  if (enroll) return plumb::RunEnroll(*config, *flags, std::cout, std::cerr);
  if (!config->insecure && config->tls.empty()) {
    std::cerr << "plumb-agent: no TLS identity: enroll this node first (plumb-agent enroll "
                 "--server ADDR --token TOKEN --ca-fingerprint SHA256), set tls.ca/cert/key, or "
                 "pass --insecure for a local development server\n";
    return kExitNotEnrolled;
  }

  return RunAgent(*config);
}

