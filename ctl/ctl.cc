#include "ctl/ctl.h"

#include <functional>
#include <map>

#include "common/command_line.h"
#include "common/grpc_credentials.h"
#include "common/version.h"
#include "ctl/commands.h"
#include "ctl/ctl_connection.h"

namespace plumb {
namespace {

constexpr char kUsage[] = R"(usage: plumbctl [--server ADDR] [-o table|json] COMMAND [ARGS]

fleet commands (talk to plumb-server):
  nodes [--selector k=v,...] [--status STATUS]   list nodes
  node NAME                                   one node: labels, facts, revisions, last run
                                              and its failing resources
  reports NODE [--limit N]                    recent runs of a node
  report ID                                   one run, per resource
  revisions [--env BRANCH] [--limit N]        fetched revisions and their compile status
                                              (with environments: of one branch's line;
                                              without --env every line, with an ENV column)
  revision SHA                                one revision with its compile errors
  sync                                        fetch the repository now
  run [NODE...] [--selector k=v,...] [--noop] [--wait=false] [--timeout DUR]
                                              run agents now and print each node's outcome
  resources [--id ID|GLOB] [--status changed|failed|would_change|skipped|drifted]
            [--since DUR] [--node NAME] [--limit N]
                                              who changed, failed or drifted on which resource
  watch [--kind KIND[,KIND]] [--node NAME] [--count N]
                                              stream events (-o json: one object a line)
  plan --to REF [--from REF] [--selector k=v,...] [--noop-sample N [--noop-timeout DUR]]
                                              what a branch, tag or commit would change on
                                              each node (vs. its serving catalog or --from);
                                              --noop-sample: up to N connected nodes of each
                                              group also run it in noop (default wait 30s);
                                              exit 0 no change, 2 changes, 1 errors
  rollout status [--env BRANCH]               the running (or last) rollout: revision, wave,
                                              per-wave done/failed/pending/offline counts,
                                              bake time left, why it halted
  rollout pause|resume|abort                  stop starting waves / go on / serve the target
                                              to no further node
  rollout promote [--wave N]                  start the next wave (or wave N) now
  rollback [--to SHA] [--now]                 serve an earlier good revision (default: the
                                              one before the rollout's) through the rollout
                                              policy, or with --now to every node at once
                                              (rollout, rollback: --env BRANCH acts on that
                                              environment's line; default: the default one)
  pin NODE... | --selector k=v,... --to SHA   keep nodes on a revision, whatever is served
  unpin NODE... | --selector k=v,...          release pinned nodes
  token create [--ttl 1h] [--uses 1] [--label k=v]... [--allow-label KEY|'*']...
               [--node-glob GLOB]             a join token for plumb-agent enroll (printed once)
  node revoke NAME                            revoke a node's certificates, close its stream
  node forget NAME                            revoke a node, then remove it from the fleet
  operator list                               operator certificates issued by the server's CA
  operator revoke NAME                        revoke an operator's certificates
local commands (no server):
  validate [DIR] [--node N] [--label k=v] [--fact k=v] [--nodes-from FILE]
                                              compile a checkout, print every error
  render DIR --node N [--label k=v] [--fact k=v]  print a node's compiled catalog

global flags:
  --server ADDR   plumb-server gRPC address (default 127.0.0.1:7443, env PLUMB_SERVER)
  -o FORMAT       table (default) or json
  --insecure      plaintext gRPC (local development)
  --ca/--cert/--key FILE   TLS: the server's CA, and an operator certificate and key
  --token TOKEN   an operator bearer token instead of a certificate (env PLUMB_TOKEN)
  --config FILE   defaults for the above (default ~/.config/plumb/plumbctl.yaml:
                  server, ca, cert, key, token, insecure)
  --version       print the version
exit status: 0 success, 1 failed operation, 2 bad usage (plan: 2 means changes)
)";

using FleetCommand = std::function<int(v1::FleetService::StubInterface*, const CtlInvocation&)>;

// Every flag some command takes; anything else is a usage error before any command runs.
const std::set<std::string>& KnownFlags() {
  static const auto* flags = new std::set<std::string>{
    "server", "output", "insecure", "help",  "version",    "ca",         "cert",
    "key",    "selector", "status", "limit", "node",       "label",      "fact",
    "nodes-from", "noop", "wait",   "timeout", "id",       "since",      "kind",
    "count",  "token",  "config",   "ttl",   "uses",       "node-glob",  "allow-label",
    "to",     "from",   "wave",     "now",   "env",  "noop-sample", "noop-timeout"};
  return *flags;
}

// Connects to the fleet API as the flags and config say, and runs `run` over it.
int RunFleetCommand(const FleetCommand& run, const CommandLine& flags, const CtlInvocation& inv) {
  std::ostream& err = *inv.err;
  auto connection = ResolveConnection(flags);
  if (!connection.ok()) {
    err << "plumbctl: " << connection.status().message() << "\n";
    return 2;
  }
  absl::Status credential = CheckHasCredential(*connection);
  if (!credential.ok()) {
    err << "plumbctl: " << credential.message() << "\n";
    return 1;
  }
  auto creds = MakeChannelCredentials(connection->insecure, connection->tls, connection->token);
  if (!creds.ok()) {
    err << "plumbctl: " << creds.status().message() << "\n";
    return 2;
  }
  auto channel =
      grpc::CreateCustomChannel(connection->server, *creds, DefaultChannelArguments());
  auto stub = v1::FleetService::NewStub(channel);
  return run(stub.get(), inv);
}

}  // namespace

int RunCtl(int argc, const char* const* argv, std::ostream& out, std::ostream& err) {
  auto flags = CommandLine::Parse(argc, argv, {"insecure", "help", "version", "noop", "now"},
                                  {{"-o", "output"}, {"-h", "help"}});
  if (!flags.ok()) {
    err << "plumbctl: " << flags.status().message() << "\n";
    return 2;
  }
  if (flags->GetBool("help")) {
    out << kUsage;
    return 0;
  }
  if (flags->GetBool("version")) {
    out << "plumbctl " << kVersion << " (" << kGitCommit << ")\n";
    return 0;
  }
  absl::Status known = flags->CheckKnown(KnownFlags());
  if (!known.ok()) {
    err << "plumbctl: " << known.message() << " (see plumbctl --help)\n";
    return 2;
  }
  if (flags->positional().empty()) {
    err << "plumbctl: missing command (see plumbctl --help)\n";
    return 2;
  }
  CtlInvocation inv;
  inv.flags = &*flags;
  inv.args.assign(flags->positional().begin() + 1, flags->positional().end());
  inv.out = &out;
  inv.err = &err;
  std::string format = flags->Get("output", "table");
  if (format == "json") {
    inv.format = OutputFormat::kJson;
  } else if (format != "table") {
    err << "plumbctl: -o must be table or json, got \"" << format << "\"\n";
    return 2;
  }
  const std::string& command = flags->positional()[0];
  if (command == "validate") return CmdValidate(inv);
  if (command == "render") return CmdRender(inv);

  static const std::map<std::string, FleetCommand> kFleet = {
      {"nodes", CmdNodes},         {"node", CmdNode},         {"reports", CmdReports},
      {"report", CmdReport},       {"revisions", CmdRevisions}, {"revision", CmdRevision},
      {"sync", CmdSync},           {"run", CmdRun},           {"resources", CmdResources},
      {"watch", CmdWatch},         {"token", CmdTokenCreate}, {"operator", CmdOperator},
      {"plan", CmdPlan},           {"rollout", CmdRollout},   {"pin", CmdPin},
      {"rollback", CmdRollback},
      {"unpin", CmdUnpin}};
  auto it = kFleet.find(command);
  if (it == kFleet.end()) {
    err << "plumbctl: unknown command \"" << command << "\" (see plumbctl --help)\n";
    return 2;
  }
  FleetCommand run = it->second;
  if (command == "node" && inv.args.size() == 2 && inv.args[0] == "revoke") run = CmdNodeRevoke;
  if (command == "node" && inv.args.size() == 2 && inv.args[0] == "forget") run = CmdNodeForget;
  return RunFleetCommand(run, *flags, inv);
}

}  // namespace plumb
