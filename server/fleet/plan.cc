#include "server/fleet/plan.h"

#include "absl/strings/str_cat.h"
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

const NodeCompileResult* Planner::Side::Compile(const NodeInputs& inputs, std::string* key) {
  *key = state->GroupKey(inputs);
  auto it = compiled.find(*key);
  if (it == compiled.end()) {
    it = compiled.emplace(*key, std::make_shared<NodeCompileResult>(state->CompileNode(inputs)))
             .first;
  }
  return it->second.get();
}

absl::StatusOr<std::shared_ptr<const DesiredState>> Planner::Load(const std::string& sha) {
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<RepoTree> tree, git_->TreeAt(sha));
  return DesiredState::Parse(*tree, sha);
}

absl::StatusOr<v1::PlanResponse> Planner::Plan(const v1::PlanRequest& request) {
  if (request.to().empty()) return absl::InvalidArgumentError("plan needs a ref to plan (to)");
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
  PLUMB_RETURN_IF_ERROR(PlanNodes(request, &from, &to, &out));
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
                                v1::PlanResponse* out) {
  PLUMB_ASSIGN_OR_RETURN(
      std::vector<v1::Node> nodes,
      store_->ListNodes({request.selector().begin(), request.selector().end()},
                        v1::NODE_STATUS_UNSPECIFIED));
  PlanAssembler assembler;
  // By the pair of group keys: nodes with equal inputs on both sides share one comparison.
  absl::flat_hash_map<std::string, std::shared_ptr<const CatalogChange>> changes;
  absl::Time now = clock_->Now();
  for (const v1::Node& n : nodes) {
    if (!IsLiveNode(n, now, stale_after_)) {
      assembler.AddSkipped();
      continue;
    }
    NodeInputs inputs{n.name(), {n.labels().begin(), n.labels().end()},
                      {n.facts().begin(), n.facts().end()}};
    std::string to_key, from_key;
    const NodeCompileResult* t = to->Compile(inputs, &to_key);
    if (!t->ok()) {
      assembler.AddFailure(n.name(), t->errors);
      continue;
    }
    const NodeCompileResult* f = nullptr;
    if (from->state != nullptr) {
      f = from->Compile(inputs, &from_key);
      if (!f->ok()) {
        assembler.AddFailure(n.name(), f->errors, "its current catalog does not compile: ");
        continue;
      }
    }
    std::shared_ptr<const CatalogChange>& change =
        changes[absl::StrCat(from_key.size(), ":", from_key, to_key)];
    if (change == nullptr) change = std::make_shared<const CatalogChange>(DiffCatalogs(f, *t));
    assembler.AddChange(n.name(), change);
  }
  assembler.Finish(out);
  return absl::OkStatus();
}

}  // namespace plumb
