#pragma once

// The commands plumbctl dispatches to. Each returns the exit status (0 ok, 1 failed, 2 usage).

#include <ostream>
#include <string>
#include <vector>

#include "common/command_line.h"
#include "ctl/output.h"
#include "plumb/v1/fleet.grpc.pb.h"

namespace plumb {

// What every command gets: its arguments, output format and streams.
struct CtlInvocation {
  const CommandLine* flags;
  std::vector<std::string> args;  // after the command name
  OutputFormat format = OutputFormat::kTable;
  std::ostream* out;
  std::ostream* err;
};

// Shared by the commands: the deadline of one RPC, a context carrying it, and the one-line
// error reports. RpcFailed returns 1 (failed operation), Usage returns 2 (bad usage).
constexpr int kRpcSeconds = 30;
std::unique_ptr<grpc::ClientContext> NewRpcContext();
int RpcFailed(const CtlInvocation& inv, const std::string& what, const grpc::Status& status);
int Usage(const CtlInvocation& inv, const std::string& text);
// Parses every --selector k=v[,k=v] into `selector`; returns 2 (usage) on a bad one, else 0.
int ParseSelector(const CtlInvocation& inv,
                  google::protobuf::Map<std::string, std::string>* selector);

// Commands over the fleet API (need a server).
int CmdNodes(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);
int CmdNode(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);
int CmdReports(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);
int CmdReport(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);
int CmdRevisions(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);
int CmdRevision(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);
int CmdSync(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);
int CmdRun(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);
// Fleet-wide resource history (FleetService.ListResourceEvents).
int CmdResources(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);
// What a ref would change (FleetService.Plan); exit 0 no change, 2 changes, 1 errors.
int CmdPlan(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);
// Rollouts (rollout_commands.cc): `rollout status | pause | resume | abort | promote`.
int CmdRollout(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);
// `rollback [--to SHA] [--now]`.
int CmdRollback(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);
// `pin NODE... | --selector k=v --to SHA` and `unpin NODE... | --selector k=v`.
int CmdPin(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);
int CmdUnpin(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);
// Streams events, one line (or JSON object) each, until interrupted or --count N.
int CmdWatch(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);

// Security (token_commands.cc): `token create ...`, `node revoke NAME`, and
// `operator list` / `operator revoke NAME`.
int CmdTokenCreate(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);
int CmdNodeRevoke(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);
int CmdNodeForget(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);
int CmdOperator(v1::FleetService::StubInterface* stub, const CtlInvocation& inv);

// Local commands (no server).
int CmdValidate(const CtlInvocation& inv);
int CmdRender(const CtlInvocation& inv);

}  // namespace plumb
