// plumbctl plan: what a ref of the repository would change on the fleet (FleetService.Plan).

#include <chrono>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "ctl/commands.h"

namespace plumb {
namespace {

// Plans compile the ref for every node: give them longer than an ordinary call.
constexpr int kPlanRpcSeconds = 300;
// Names listed per group in the table; the rest are counted.
constexpr int kNamesShown = 20;

std::string Nodes(int count) { return absl::StrCat(count, count == 1 ? " node" : " nodes"); }

// "web-01, web-02 and 3 more".
std::string NameList(const google::protobuf::RepeatedPtrField<std::string>& names) {
  int shown = std::min(names.size(), kNamesShown);
  std::string text = absl::StrJoin(names.begin(), names.begin() + shown, ", ");
  if (names.size() > shown) absl::StrAppend(&text, " and ", names.size() - shown, " more");
  return text;
}

std::string Indent(const std::string& text) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    absl::StrAppend(&out, "    ", line, "\n");
  }
  return out;
}

void PrintHeader(const CtlInvocation& inv, const v1::PlanResponse& plan) {
  std::string from = plan.from_revision().empty()
                         ? (plan.serving_revision().empty()
                                ? std::string("nothing served yet")
                                : absl::StrCat("the serving revision ",
                                               ShortSha(plan.serving_revision())))
                         : absl::StrCat(inv.flags->Get("from"), " (",
                                        ShortSha(plan.from_revision()), ")");
  *inv.out << "plan of " << inv.flags->Get("to") << " (" << ShortSha(plan.to_revision())
           << ") against " << from << "\n";
}

void PrintPlan(const CtlInvocation& inv, const v1::PlanResponse& plan) {
  std::ostream& out = *inv.out;
  PrintHeader(inv, plan);
  if (plan.errors_size() > 0) {
    out << "\nthe revision does not compile (no node would get it):\n";
    for (const v1::CompileError& e : plan.errors()) {
      out << "  " << (e.location().empty() ? "" : e.location() + ": ") << e.message() << "\n";
    }
    return;
  }
  for (const v1::PlanGroup& g : plan.groups()) {
    out << "\n" << Nodes(g.nodes_size()) << ": " << g.summary() << "\n";
    out << "  " << NameList(g.nodes()) << "\n";
    if (!g.diff().empty()) out << Indent(g.diff());
  }
  if (plan.failures_size() > 0) {
    out << "\n" << Nodes(plan.failures_size()) << " would fail to compile:\n";
    for (const v1::NodeFailure& f : plan.failures()) {
      for (const v1::CompileError& e : f.errors()) {
        out << "  " << f.node() << ": " << (e.location().empty() ? "" : e.location() + ": ")
            << e.message() << "\n";
      }
    }
  }
  out << "\nuntouched: " << Nodes(plan.unchanged_size())
      << (plan.unchanged_size() > 0 ? ": " + NameList(plan.unchanged()) : "") << "\n";
  if (plan.skipped() > 0) out << "skipped (revoked or stale): " << Nodes(plan.skipped()) << "\n";
}

}  // namespace

int CmdPlan(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  constexpr char kUsage[] = "plan --to REF [--from REF] [--selector k=v,...]";
  // Exit 2 means "changes" for plan, so its own usage errors are errors (1), not 2.
  if (!inv.args.empty() || inv.flags->Get("to").empty()) {
    Usage(inv, kUsage);
    return 1;
  }
  v1::PlanRequest req;
  req.set_to(inv.flags->Get("to"));
  req.set_from(inv.flags->Get("from"));
  if (inv.flags->Has("from") && req.from().empty()) {
    Usage(inv, kUsage);
    return 1;
  }
  if (int rc = ParseSelector(inv, req.mutable_selector())) return rc;
  v1::PlanResponse plan;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(kPlanRpcSeconds));
  grpc::Status st = stub->Plan(&ctx, req, &plan);
  if (!st.ok()) return RpcFailed(inv, absl::StrCat("plan ", req.to()), st);
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(plan) << "\n";
  } else {
    PrintPlan(inv, plan);
  }
  // For CI: 1 errors, 2 changes, 0 nothing would change.
  if (plan.errors_size() > 0 || plan.failures_size() > 0) return 1;
  return plan.groups_size() > 0 ? 2 : 0;
}

}  // namespace plumb
