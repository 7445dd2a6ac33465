#include "server/fleet/plan.h"

#include "absl/strings/str_cat.h"
#include "common/parallel_for.h"
#include "common/status_macros.h"
#include "server/git/revision_poller.h"

namespace plumb {
namespace {

void AddErrors(const std::vector<CompileError>& errors, const std::string& prefix,
               v1::PlanResponse* out) {
  for (const CompileError& e : errors) {
    v1::CompileError* pe = out->add_errors();
    pe->set_location(e.location);
    pe->set_message(absl::StrCat(prefix, e.message));
  }
}

}  // namespace

std::vector<std::string> Planner::Side::Keys(const std::vector<NodeInputs>& nodes) {
  std::vector<std::string> keys(nodes.size());
  if (state == nullptr) return keys;
  ParallelFor(nodes.size(), [&](size_t i) { keys[i] = state->GroupKey(nodes[i]); });
  for (const std::string& key : keys) ++uses[key];
  return keys;
}

void Planner::Side::Compile(const std::vector<NodeInputs>& nodes,
                            const std::vector<std::string>& keys, size_t begin, size_t end) {
  if (state == nullptr) return;
  std::vector<size_t> first_of_group;
  for (size_t i = begin; i < end; ++i) {
    if (compiled.emplace(keys[i], nullptr).second) first_of_group.push_back(i);
  }
  std::vector<std::shared_ptr<const NodeCompileResult>> results(first_of_group.size());
  ParallelFor(first_of_group.size(), [&](size_t g) {
    results[g] =
        std::make_shared<const NodeCompileResult>(state->CompileNode(nodes[first_of_group[g]]));
  });
  for (size_t g = 0; g < first_of_group.size(); ++g) {
    compiled[keys[first_of_group[g]]] = std::move(results[g]);
  }
}

void Planner::Side::Release(const std::vector<std::string>& keys, size_t begin, size_t end) {
  if (state == nullptr) return;
  for (size_t i = begin; i < end; ++i) {
    auto it = uses.find(keys[i]);
    if (--it->second == 0) {
      compiled.erase(keys[i]);
      uses.erase(it);
    }
  }
}

absl::StatusOr<std::shared_ptr<const DesiredState>> Planner::Load(const std::string& sha) {
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<RepoTree> tree, git_->TreeAt(sha));
  return DesiredState::Parse(*tree, sha);
}

absl::StatusOr<v1::PlanResponse> Planner::Plan(const v1::PlanRequest& request) {
  if (request.to().empty()) return absl::InvalidArgumentError("plan needs a ref to plan (to)");
  if (request.noop_sample() < 0 || request.noop_timeout_ms() < 0) {
    return absl::InvalidArgumentError("noop_sample and noop_timeout_ms may not be negative");
  }
  if (request.noop_sample() > 0 && sampler_ == nullptr) {
    return absl::UnimplementedError("this server cannot sample nodes (no noop sampler)");
  }
  v1::PlanResponse out;
  PLUMB_ASSIGN_OR_RETURN(std::string serving, store_->ServingRevision());
  out.set_serving_revision(serving);
  PLUMB_ASSIGN_OR_RETURN(CommitInfo to_commit, git_->FetchRef(request.to()));
  out.set_to_revision(to_commit.sha);
  Side to;
  PLUMB_ASSIGN_OR_RETURN(to.state, Load(to_commit.sha));
  if (!to.state->ok()) {
    // Nothing compiles: the repository itself is wrong at `to`.
    AddErrors(to.state->errors(), "", &out);
    return out;
  }
  Side from;
  PLUMB_RETURN_IF_ERROR(LoadFrom(request.from(), &from, &out));
  if (out.errors_size() > 0) return out;
  std::map<std::string, NodeInputs> connected;
  PLUMB_RETURN_IF_ERROR(PlanNodes(request, &from, &to, &out, &connected));
  if (request.noop_sample() > 0) sampler_->Sample(request, *to.state, connected, &out);
  return out;
}

absl::Status Planner::LoadFrom(const std::string& ref, Side* side, v1::PlanResponse* out) {
  const std::string& serving = out->serving_revision();
  if (ref.empty()) {
    if (serving.empty()) return absl::OkStatus();  // nothing served yet: every resource is new
    PLUMB_ASSIGN_OR_RETURN(side->state, Load(serving));
    if (!side->state->ok()) {
      return absl::DataLossError(absl::StrCat("serving revision ", serving, " no longer compiles"));
    }
    return absl::OkStatus();
  }
  PLUMB_ASSIGN_OR_RETURN(CommitInfo commit, git_->FetchRef(ref));
  out->set_from_revision(commit.sha);
  PLUMB_ASSIGN_OR_RETURN(side->state, Load(commit.sha));
  if (!side->state->ok()) {
    AddErrors(side->state->errors(), absl::StrCat("in --from ", commit.sha.substr(0, 12), ": "),
              out);
  }
  return absl::OkStatus();
}

absl::Status Planner::PlanNodes(const v1::PlanRequest& request, Side* from, Side* to,
                                v1::PlanResponse* out,
                                std::map<std::string, NodeInputs>* connected) {
  PLUMB_ASSIGN_OR_RETURN(
      std::vector<v1::Node> nodes,
      store_->ListNodes({request.selector().begin(), request.selector().end()},
                        v1::NODE_STATUS_UNSPECIFIED));
  PlanAssembler assembler;
  // Without `from`, each node is compared with what its own revision line serves.
  std::map<std::string, std::vector<NodeInputs>> by_line;
  absl::Time now = clock_->Now();
  for (const v1::Node& n : nodes) {
    if (!IsLiveNode(n, now, stale_after_)) {
      assembler.AddSkipped();
      continue;
    }
    bool per_line = request.from().empty() && line_trees_;
    std::vector<NodeInputs>& line = by_line[per_line ? n.environment() : ""];
    line.push_back({n.name(), {n.labels().begin(), n.labels().end()},
                    {n.facts().begin(), n.facts().end()}});
    if (n.connected()) (*connected)[n.name()] = line.back();
  }
  if (by_line.size() == 1 && by_line.begin()->first.empty()) {
    ChangeCache changes;
    PlanLine(by_line.begin()->second, from, to, &changes, &assembler);
  } else {
    for (const auto& [environment, live] : by_line) {
      Side line_from, line_to;
      PLUMB_RETURN_IF_ERROR(LoadLine(environment, &line_from, out));
      line_to.state = to->state;
      ChangeCache changes;  // group keys of different revisions must not meet
      PlanLine(live, &line_from, &line_to, &changes, &assembler);
    }
  }
  assembler.Finish(out);
  return absl::OkStatus();
}

absl::Status Planner::LoadLine(const std::string& environment, Side* side,
                               v1::PlanResponse* out) {
  PLUMB_ASSIGN_OR_RETURN(std::string serving, store_->ServingRevision(environment));
  absl::StatusOr<std::unique_ptr<RepoTree>> tree = absl::NotFoundError("nothing served");
  if (!serving.empty()) tree = line_trees_(environment, serving);
  // Nothing served in that line, or no such line any more (a node not connected since the
  // environments changed, or matching none): every resource is new.
  if (absl::IsNotFound(tree.status())) serving.clear();
  (*out->mutable_environment_serving())[environment] = serving;
  if (serving.empty()) return absl::OkStatus();
  PLUMB_RETURN_IF_ERROR(tree.status());
  side->state = DesiredState::Parse(**tree, serving);
  if (!side->state->ok()) {
    return absl::DataLossError(absl::StrCat("serving revision ", serving, " of environment ",
                                            environment, " no longer compiles"));
  }
  return absl::OkStatus();
}

void Planner::PlanLine(const std::vector<NodeInputs>& live, Side* from, Side* to,
                       ChangeCache* changes, PlanAssembler* assembler) {
  std::vector<std::string> to_keys = to->Keys(live);
  std::vector<std::string> from_keys = from->Keys(live);
  // By the pair of group keys: nodes with equal inputs on both sides share one comparison.
  // In batches, so that with a per-node template (every node its own group) at most one
  // batch of compiled catalogs is held at a time; a group's catalog is dropped after the
  // last node that uses it.
  constexpr size_t kBatch = 512;
  for (size_t begin = 0; begin < live.size(); begin += kBatch) {
    size_t end = std::min(live.size(), begin + kBatch);
    to->Compile(live, to_keys, begin, end);
    from->Compile(live, from_keys, begin, end);
    PlanBatch(live, from_keys, to_keys, begin, end, from, to, changes, assembler);
    to->Release(to_keys, begin, end);
    from->Release(from_keys, begin, end);
  }
}

void Planner::PlanBatch(const std::vector<NodeInputs>& live,
                        const std::vector<std::string>& from_keys,
                        const std::vector<std::string>& to_keys, size_t begin, size_t end,
                        Side* from, Side* to, ChangeCache* changes, PlanAssembler* assembler) {
  struct Comparison {
    const NodeCompileResult* from;
    const NodeCompileResult* to;
    std::shared_ptr<const CatalogChange>* change;  // stable: ChangeCache is a node map
  };
  std::vector<Comparison> todo;
  std::vector<const std::shared_ptr<const CatalogChange>*> node_change(end - begin, nullptr);
  for (size_t i = begin; i < end; ++i) {
    const NodeCompileResult* t = to->compiled[to_keys[i]].get();
    const NodeCompileResult* f = from->state ? from->compiled[from_keys[i]].get() : nullptr;
    if (!t->ok() || (f != nullptr && !f->ok())) continue;
    auto [it, added] = changes->try_emplace(
        absl::StrCat(from_keys[i].size(), ":", from_keys[i], to_keys[i]), nullptr);
    if (added) todo.push_back({f, t, &it->second});
    node_change[i - begin] = &it->second;
  }
  ParallelFor(todo.size(), [&](size_t c) {
    *todo[c].change = std::make_shared<const CatalogChange>(DiffCatalogs(todo[c].from, *todo[c].to));
  });
  for (size_t i = begin; i < end; ++i) {
    const NodeCompileResult* t = to->compiled[to_keys[i]].get();
    const NodeCompileResult* f = from->state ? from->compiled[from_keys[i]].get() : nullptr;
    if (!t->ok()) {
      assembler->AddFailure(live[i].name, t->errors);
    } else if (f != nullptr && !f->ok()) {
      assembler->AddFailure(live[i].name, f->errors, "its current catalog does not compile: ");
    } else {
      assembler->AddChange(live[i].name, *node_change[i - begin]);
    }
  }
}

}  // namespace plumb
