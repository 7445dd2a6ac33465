// plumbctl plan: what a ref of the repository would change on the fleet (FleetService.Plan).

#include <chrono>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/numbers.h"
#include "absl/container/flat_hash_set.h"
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

std::string OutcomeText(v1::ResourceOutcome outcome) {
  switch (outcome) {
    case v1::WOULD_CHANGE: return "would change";
    case v1::FAILED: return "failed";
    case v1::SKIPPED: return "skipped";
    case v1::CHANGED: return "changed";
    default: return "unchanged";
  }
}

// What the sampled nodes of a group reported from running the planned catalog in noop. A
// resource the plan does not list for the group is marked: the host differs from what the
// diff alone predicts (edited by hand, say).
void PrintSamples(std::ostream& out, const v1::PlanGroup& g) {
  if (g.noop_samples_size() == 0) return;
  absl::flat_hash_set<std::string> planned;
  for (const v1::PlanResourceChange& c : g.changes()) planned.insert(c.id());
  out << "  noop sample:\n";
  for (const v1::PlanNoopSample& s : g.noop_samples()) {
    if (!s.error().empty()) {
      out << "    " << s.node() << ": not run: " << s.error() << "\n";
      continue;
    }
    if (!s.answered()) {
      out << "    " << s.node() << ": no answer\n";
      continue;
    }
    out << "    " << s.node() << ": " << s.results_size() << " would change or fail, "
        << s.unchanged() << " unchanged\n";
    for (const v1::ResourceResult& r : s.results()) {
      out << "      " << r.id() << ": " << OutcomeText(r.outcome())
          << (planned.contains(r.id()) ? "" : " (not in the plan: the host differs)")
          << (r.message().empty() ? "" : " - " + r.message()) << "\n";
      if (!r.diff().empty()) out << Indent(Indent(r.diff()));
    }
    if (!s.truncated().empty()) out << "      (" << s.truncated() << ")\n";
  }
}

void PrintHeader(const CtlInvocation& inv, const v1::PlanResponse& plan) {
  std::string lines;
  for (const auto& [env, sha] : std::map<std::string, std::string>(
           plan.environment_serving().begin(), plan.environment_serving().end())) {
    absl::StrAppend(&lines, lines.empty() ? "" : ", ", env.empty() ? "(none)" : env, " ",
                    sha.empty() ? "nothing" : ShortSha(sha));
  }
  std::string from = !lines.empty() ? absl::StrCat("each environment's serving revision (",
                                                   lines, ")")
                     : plan.from_revision().empty()
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
    PrintSamples(out, g);
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
  if (!plan.noop_note().empty()) out << "noop sample: " << plan.noop_note() << "\n";
}

// --noop-sample N and --noop-timeout DUR into `req`; 1 (an error: plan's 2 means changes) on a
// bad value, else 0.
int ParseNoopFlags(const CtlInvocation& inv, v1::PlanRequest* req) {
  if (inv.flags->Has("noop-sample")) {
    int n = 0;
    std::string text = inv.flags->Get("noop-sample");
    if (!absl::SimpleAtoi(text, &n) || n < 0) {
      *inv.err << "plumbctl: --noop-sample must be a number of nodes, got \"" << text << "\"\n";
      return 1;
    }
    req->set_noop_sample(n);
  }
  if (inv.flags->Has("noop-timeout")) {
    auto timeout = ParseDurationText(inv.flags->Get("noop-timeout"));
    if (!timeout.ok() || *timeout <= absl::ZeroDuration() || *timeout > absl::Seconds(300)) {
      *inv.err << "plumbctl: --noop-timeout must be a duration up to 300s, got \""
               << inv.flags->Get("noop-timeout") << "\"\n";
      return 1;
    }
    req->set_noop_timeout_ms(static_cast<int32_t>(absl::ToInt64Milliseconds(*timeout)));
  }
  return 0;
}

}  // namespace

int CmdPlan(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  constexpr char kUsage[] =
      "plan --to REF [--from REF] [--selector k=v,...] [--noop-sample N [--noop-timeout DUR]]";
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
  if (ParseNoopFlags(inv, &req) != 0) return 1;
  v1::PlanResponse plan;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(kPlanRpcSeconds) +
                   std::chrono::milliseconds(req.noop_timeout_ms()));
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
