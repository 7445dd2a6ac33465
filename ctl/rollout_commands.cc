// plumbctl rollout status | pause | resume | abort | promote [--wave N] (FleetService
// GetRolloutStatus / ControlRollout; docs/rollouts.md).

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/compiler/rollout_policy.h"
#include "ctl/commands.h"

namespace plumb {
namespace {

constexpr char kRolloutUsage[] = "rollout status | pause | resume | abort | promote [--wave N]";

void PrintStatus(const CtlInvocation& inv, const v1::RolloutStatus& s) {
  std::ostream& out = *inv.out;
  if (s.phase() == v1::ROLLOUT_PHASE_UNSPECIFIED) {
    out << "no rollout: "
        << (s.revision().empty() ? "nothing served yet"
                                 : absl::StrCat(ShortSha(s.revision()),
                                                " is served to every node (no rollout: policy)"))
        << "\n";
    return;
  }
  std::string wave = s.wave() < static_cast<uint32_t>(s.waves_size())
                         ? s.waves(static_cast<int>(s.wave())).name()
                         : "-";
  out << "rollout of " << ShortSha(s.revision()) << " (previous " << ShortSha(s.previous())
      << "): " << RolloutPhaseName(s.phase()) << ", wave " << s.wave() + 1 << "/" << s.waves_size()
      << " (" << wave << ")\n";
  if (s.bake_left_ms() >= 0) out << "bake: " << (s.bake_left_ms() + 999) / 1000 << "s left\n";
  out << "\n";
  Table table({"WAVE", "NODES", "DONE", "FAILED", "PENDING", "OFFLINE", "MAX_FAILED"});
  for (int i = 0; i < s.waves_size(); ++i) {
    const v1::RolloutWaveStatus& w = s.waves(i);
    table.AddRow({absl::StrCat(i + 1, " ", w.name()), absl::StrCat(w.nodes()),
                  absl::StrCat(w.done()), absl::StrCat(w.failed()), absl::StrCat(w.pending()),
                  absl::StrCat(w.offline()), absl::StrCat(w.max_failed())});
  }
  out << table.ToString();
  if (!s.halt_reason().empty()) out << "\nhalted: " << s.halt_reason() << "\n";
  if (s.failures_size() > 0) {
    out << "\nfailed nodes:\n";
    for (const v1::RolloutFailure& f : s.failures()) {
      out << "  " << f.node() << ": " << OneLine(f.error()) << "\n";
    }
  }
}

int Control(v1::FleetService::StubInterface* stub, const CtlInvocation& inv,
            v1::ControlRolloutRequest::Action action) {
  v1::ControlRolloutRequest req;
  req.set_action(action);
  req.set_environment(inv.flags->Get("env"));
  if (inv.flags->Has("wave")) {
    int wave = 0;
    if (action != v1::ControlRolloutRequest::PROMOTE ||
        !absl::SimpleAtoi(inv.flags->Get("wave"), &wave) || wave < 1) {
      return Usage(inv, kRolloutUsage);
    }
    req.set_wave(wave);
  }
  v1::RolloutStatus status;
  auto ctx = NewRpcContext();
  grpc::Status st = stub->ControlRollout(ctx.get(), req, &status);
  if (!st.ok()) return RpcFailed(inv, absl::StrCat("rollout ", inv.args[0]), st);
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(status) << "\n";
  } else {
    PrintStatus(inv, status);
  }
  return 0;
}

}  // namespace

int CmdRollout(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  if (inv.args.size() != 1) return Usage(inv, kRolloutUsage);
  const std::string& verb = inv.args[0];
  if (verb == "pause") return Control(stub, inv, v1::ControlRolloutRequest::PAUSE);
  if (verb == "resume") return Control(stub, inv, v1::ControlRolloutRequest::RESUME);
  if (verb == "abort") return Control(stub, inv, v1::ControlRolloutRequest::ABORT);
  if (verb == "promote") return Control(stub, inv, v1::ControlRolloutRequest::PROMOTE);
  if (verb != "status" || inv.flags->Has("wave")) return Usage(inv, kRolloutUsage);
  v1::RolloutStatus status;
  v1::GetRolloutStatusRequest req;
  req.set_environment(inv.flags->Get("env"));
  auto ctx = NewRpcContext();
  grpc::Status st = stub->GetRolloutStatus(ctx.get(), req, &status);
  if (!st.ok()) return RpcFailed(inv, "rollout status", st);
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(status) << "\n";
  } else {
    PrintStatus(inv, status);
  }
  return 0;
}

int CmdRollback(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  if (!inv.args.empty() || (inv.flags->Has("to") && inv.flags->Get("to").empty())) {
    return Usage(inv, "rollback [--to SHA] [--now] [--env BRANCH]");
  }
  v1::RollbackRequest req;
  req.set_to(inv.flags->Get("to"));
  req.set_environment(inv.flags->Get("env"));
  req.set_now(inv.flags->GetBool("now"));
  v1::RollbackResponse resp;
  auto ctx = NewRpcContext();
  grpc::Status st = stub->Rollback(ctx.get(), req, &resp);
  if (!st.ok()) return RpcFailed(inv, "rollback", st);
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(resp) << "\n";
    return 0;
  }
  *inv.out << "rolling back to " << ShortSha(resp.revision())
           << (req.now() ? ": every node at once\n" : " through the rollout policy\n");
  return 0;
}

int CmdPin(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  v1::PinRequest req;
  for (const std::string& n : inv.args) req.add_nodes(n);
  if (int rc = ParseSelector(inv, req.mutable_selector())) return rc;
  req.set_to(inv.flags->Get("to"));
  if ((inv.args.empty() && req.selector().empty()) || req.to().empty()) {
    return Usage(inv, "pin NODE... | pin --selector k=v[,k=v] --to SHA");
  }
  v1::PinResponse resp;
  auto ctx = NewRpcContext();
  grpc::Status st = stub->Pin(ctx.get(), req, &resp);
  if (!st.ok()) return RpcFailed(inv, "pin", st);
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(resp) << "\n";
    return 0;
  }
  for (const std::string& n : resp.nodes()) {
    *inv.out << n << " pinned to " << ShortSha(resp.revision()) << "\n";
  }
  return 0;
}

int CmdUnpin(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  v1::UnpinRequest req;
  for (const std::string& n : inv.args) req.add_nodes(n);
  if (int rc = ParseSelector(inv, req.mutable_selector())) return rc;
  if (inv.args.empty() && req.selector().empty()) {
    return Usage(inv, "unpin NODE... | unpin --selector k=v[,k=v]");
  }
  v1::PinResponse resp;
  auto ctx = NewRpcContext();
  grpc::Status st = stub->Unpin(ctx.get(), req, &resp);
  if (!st.ok()) return RpcFailed(inv, "unpin", st);
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(resp) << "\n";
    return 0;
  }
  for (const std::string& n : resp.nodes()) *inv.out << n << " unpinned\n";
  return 0;
}

}  // namespace plumb
