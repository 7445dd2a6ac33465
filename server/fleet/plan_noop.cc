#include "server/fleet/plan_noop.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/logging.h"

namespace plumb {
namespace {

std::string Cut(const std::string& text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "…";
}

}  // namespace

void FillNoopSample(const NoopOutcome& outcome, v1::PlanNoopSample* sample) {
  sample->set_answered(outcome.answered);
  if (!outcome.error.empty()) {
    sample->set_error(Cut(outcome.error, NoopSampler::kMaxMessageBytes));
    return;
  }
  if (!outcome.answered) return;
  std::vector<std::string> cut;
  if (!outcome.report.truncated().empty()) cut.push_back(outcome.report.truncated());
  int results_dropped = 0, diffs_dropped = 0;
  size_t diff_bytes = 0;
  for (const v1::ResourceResult& r : outcome.report.results()) {
    if (r.outcome() == v1::UNCHANGED) {
      sample->set_unchanged(sample->unchanged() + 1);
      continue;
    }
    if (sample->results_size() >= NoopSampler::kMaxResultsPerSample) {
      ++results_dropped;
      continue;
    }
    v1::ResourceResult* out = sample->add_results();
    out->set_id(r.id());
    out->set_outcome(r.outcome());
    out->set_message(Cut(r.message(), NoopSampler::kMaxMessageBytes));
    if (diff_bytes + r.diff().size() <= NoopSampler::kMaxDiffBytesPerSample) {
      out->set_diff(r.diff());
      diff_bytes += r.diff().size();
    } else {
      ++diffs_dropped;
    }
  }
  if (results_dropped > 0) cut.push_back(absl::StrCat(results_dropped, " results not shown"));
  if (diffs_dropped > 0) cut.push_back(absl::StrCat(diffs_dropped, " diffs not shown"));
  sample->set_truncated(absl::StrJoin(cut, "; "));
}

std::string NoopSampler::Send(const DesiredState& to, const NodeInputs& node,
                              v1::PlanNoopSample* sample) {
  NodeCompileResult compiled = to.CompileNode(node);
  if (!compiled.ok()) {
    sample->set_error("the planned catalog does not compile for this node");
    return "";
  }
  absl::StatusOr<std::string> id =
      hub_->noop_requests().Start(node.name, compiled.catalog, std::move(compiled.blobs));
  if (!id.ok()) {
    sample->set_error(std::string(id.status().message()));
    return "";
  }
  hub_->SendNoop(node.name, *id, compiled.catalog);
  return *id;
}

std::vector<std::pair<int, std::string>> PickNoopSamples(
    int per_group, const std::function<bool(const std::string&)>& connected,
    v1::PlanResponse* plan) {
  std::vector<std::pair<int, std::string>> picked;
  const int n = std::min(per_group, NoopSampler::kMaxPerGroup);
  bool capped = false;
  for (int g = 0; g < plan->groups_size() && !capped; ++g) {
    int taken = 0;
    for (const std::string& name : plan->groups(g).nodes()) {
      if (taken >= n) break;
      if (!connected(name)) continue;
      if (static_cast<int>(picked.size()) >= NoopSampler::kMaxPerPlan) {
        capped = true;
        break;
      }
      ++taken;
      picked.emplace_back(g, name);
    }
  }
  std::vector<std::string> notes;
  if (capped) {
    notes.push_back(absl::StrCat("sampled ", NoopSampler::kMaxPerPlan,
                                 " nodes, the most per plan; later groups have fewer"));
  }
  if (per_group > NoopSampler::kMaxPerGroup) {
    notes.push_back(absl::StrCat("at most ", NoopSampler::kMaxPerGroup, " nodes per group"));
  }
  plan->set_noop_note(absl::StrJoin(notes, "; "));
  return picked;
}

void NoopSampler::Sample(const v1::PlanRequest& request, const DesiredState& to,
                         const std::map<std::string, NodeInputs>& connected,
                         v1::PlanResponse* plan) {
  absl::Duration timeout = request.noop_timeout_ms() > 0
                               ? absl::Milliseconds(request.noop_timeout_ms())
                               : kDefaultTimeout;
  timeout = std::min(timeout, kMaxTimeout);
  std::vector<std::pair<int, std::string>> picked = PickNoopSamples(
      request.noop_sample(), [&](const std::string& n) { return connected.count(n) > 0; }, plan);
  struct Pending {
    v1::PlanNoopSample* sample;
    std::string id;
  };
  std::vector<Pending> pending;
  for (const auto& [group, name] : picked) {
    v1::PlanNoopSample* sample = plan->mutable_groups(group)->add_noop_samples();
    sample->set_node(name);
    std::string id = Send(to, connected.at(name), sample);
    if (!id.empty()) pending.push_back({sample, std::move(id)});
  }
  // One deadline for all: the plan waits `timeout` at most, however many it asked.
  absl::Time deadline = clock_->Now() + timeout;
  for (Pending& p : pending) FillNoopSample(hub_->noop_requests().Wait(p.id, deadline), p.sample);
  LogInfo("plan noop samples", {{"sampled", static_cast<int>(picked.size())},
                                {"asked", static_cast<int>(pending.size())}});
}

}  // namespace plumb
