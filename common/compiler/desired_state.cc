// DesiredState: a parsed repository (common/compiler/desired_state_parse.cc) and the per-node compile:
// target matching, var precedence, template rendering, relation checks, sealing.

#include <fnmatch.h>

#include <algorithm>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/catalog.h"
#include "common/compiler/compile_graph.h"
#include "common/compiler/compiler.h"
#include "common/compiler/desired_state_model.h"
#include "common/digest.h"

namespace plumb {

namespace {

using compile::ErrorList;
using compile::ModuleSpec;
using compile::ResourceSpec;
using compile::TargetSpec;

bool Matches(const TargetSpec& target, const NodeInputs& node) {
  if (!target.node_globs.empty()) {
    bool any = false;
    for (const std::string& glob : target.node_globs) {
      any = any || fnmatch(glob.c_str(), node.name.c_str(), 0) == 0;
    }
    if (!any) return false;
  }
  for (const auto& [key, want] : target.labels) {
    auto it = node.labels.find(key);
    if (it == node.labels.end() || it->second != want) return false;
  }
  for (const auto& [key, want] : target.facts) {
    auto it = node.facts.find(key);
    if (it == node.facts.end() || it->second != want) return false;
  }
  return true;
}

// The first fact or label key of `node` deeper than templates may nest, as "facts key
// \"a.a…\" has depth N, limit 16", or "" if there is none. Such keys come from the wire or an
// agent's config; they fail the node's compile instead of nesting a million levels.
std::string TooDeepKey(const NodeInputs& node) {
  for (const auto* inputs : {&node.facts, &node.labels}) {
    for (const auto& [key, value] : *inputs) {
      size_t depth = 1 + std::count(key.begin(), key.end(), '.');
      if (depth <= static_cast<size_t>(MustacheValue::kMaxPathDepth)) continue;
      return absl::StrCat(inputs == &node.facts ? "facts" : "labels", " key \"",
                          absl::CHexEscape(key.substr(0, 32)), key.size() > 32 ? "…" : "",
                          "\" has depth ", depth, ", limit ", MustacheValue::kMaxPathDepth);
    }
  }
  return "";
}

// What templates see besides vars: facts and labels (dotted keys become nested names, so
// "os.id" reads as facts.os.id) and node.name. Keys over MustacheValue::kMaxPathDepth are left
// out (TooDeepKey reports them).
MustacheValue NodeContext(const NodeInputs& node) {
  MustacheValue context;
  MustacheValue* facts = context.MutableChild("facts");
  for (const auto& [key, value] : node.facts) facts->SetPath(key, value);
  MustacheValue* labels = context.MutableChild("labels");
  for (const auto& [key, value] : node.labels) labels->SetPath(key, value);
  context.MutableChild("node")->MutableChild("name")->SetString(node.name);
  return context;
}

// Var names replace whole values; a higher level does not merge into a lower level's map.
void Overlay(const MustacheValue& higher, MustacheValue* vars) {
  for (const auto& [name, value] : higher.children()) *vars->MutableChild(name) = value;
}

bool PrefixRead(const std::set<std::string>& prefixes, const std::string& key) {
  for (const std::string& prefix : prefixes) {
    if (prefix.empty() || key == prefix || absl::StartsWith(key, absl::StrCat(prefix, "."))) {
      return true;
    }
  }
  return false;
}

// Whether a render error comes from the node's inputs: a facts.* or labels.* name that does
// not resolve (or is not a string) for this node. Undefined vars, and output over a bound, are
// the commit's doing.
bool ReadsNodeInput(const MustacheError& error) {
  if (error.over_limit) return false;
  for (absl::string_view root : {"facts", "labels"}) {
    if (error.name == root || absl::StartsWith(error.name, absl::StrCat(root, "."))) return true;
  }
  return false;
}

void AppendField(std::string* out, absl::string_view text) {
  absl::StrAppend(out, text.size(), ":", text, ";");
}

class DesiredStateImpl : public DesiredState {
 public:
  DesiredStateImpl(const RepoTree& tree, std::string revision) : revision_(std::move(revision)) {
    ErrorList errors(&errors_);
    compile::ParseRepository(tree, &model_, &errors);
    // A resource without a template is the same on every node: version it once, here.
    for (auto& [name, module] : model_.modules) {
      for (ResourceSpec& spec : module.resources) {
        if (spec.tmpl == nullptr) SealResource(&spec.resource);
      }
    }
  }

  const std::string& revision() const override { return revision_; }
  const std::vector<CompileError>& errors() const override { return errors_; }
  const RolloutPolicy* rollout() const override {
    return model_.rollout.has_value() ? &*model_.rollout : nullptr;
  }

  NodeCompileResult CompileNode(const NodeInputs& node) const override;
  std::string GroupKey(const NodeInputs& node) const override;

 private:
  std::vector<size_t> MatchTargets(const NodeInputs& node) const {
    std::vector<size_t> matched;
    for (size_t i = 0; i < model_.targets.size(); ++i) {
      if (Matches(model_.targets[i], node)) matched.push_back(i);
    }
    return matched;
  }

  // Modules of the matched targets in order of first mention, each once.
  std::vector<const ModuleSpec*> ModulesOf(const std::vector<size_t>& matched) const {
    std::vector<const ModuleSpec*> modules;
    std::set<std::string> seen;
    for (size_t t : matched) {
      for (const std::string& name : model_.targets[t].modules) {
        auto it = model_.modules.find(name);
        if (it != model_.modules.end() && seen.insert(name).second) {
          modules.push_back(&it->second);
        }
      }
    }
    return modules;
  }

  // Adds a copy of `spec` to `catalog`, rendering its template; false on a render error.
  bool AddResource(const ResourceSpec& spec, const MustacheValue& context, const NodeInputs& node,
                   v1::Catalog* catalog, NodeCompileResult* result) const;

  std::string revision_;
  compile::RepoModel model_;
  std::vector<CompileError> errors_;
};

bool DesiredStateImpl::AddResource(const ResourceSpec& spec, const MustacheValue& context,
                                   const NodeInputs& node, v1::Catalog* catalog,
                                   NodeCompileResult* result) const {
  v1::Resource* resource = catalog->add_resources();
  *resource = spec.resource;
  std::shared_ptr<const std::string> blob = spec.blob;
  if (spec.tmpl != nullptr) {
    std::string out;
    MustacheError error;
    if (!spec.tmpl->Render(context, &out, &error)) {
      result->errors.push_back(
          CompileError{compile::Location(spec.template_path, YamlMark{error.line, error.column}),
                       // No node name here: nodes of one group must get identical results.
                       absl::StrCat(error.message, " (rendering ", resource->id(), ")"),
                       ReadsNodeInput(error)});
      return false;
    }
    blob = std::make_shared<const std::string>(std::move(out));
    resource->set_content_digest(Sha256Hex(*blob));
    resource->set_content_size(static_cast<int64_t>(blob->size()));
    SealResource(resource);
  }
  if (blob != nullptr) result->blobs.emplace(resource->content_digest(), std::move(blob));
  return true;
}

NodeCompileResult DesiredStateImpl::CompileNode(const NodeInputs& node) const {
  NodeCompileResult result;
  ErrorList errors(&result.errors);
  if (std::string deep = TooDeepKey(node); !deep.empty()) {
    errors.Add("", std::move(deep));
    return result;
  }
  std::vector<size_t> matched = MatchTargets(node);
  auto catalog = std::make_shared<v1::Catalog>();
  catalog->set_revision(revision_);
  catalog->set_prune(model_.prune);
  std::vector<const std::vector<compile::RelationRef>*> relations;
  std::map<std::string, std::pair<std::string, const ModuleSpec*>> seen;  // id -> where, module
  MustacheValue context = NodeContext(node);
  for (const ModuleSpec* module : ModulesOf(matched)) {
    MustacheValue* vars = context.MutableChild("vars");
    *vars = module->vars;
    Overlay(model_.vars, vars);
    for (size_t t : matched) Overlay(model_.targets[t].vars, vars);
    for (const ResourceSpec& spec : module->resources) {
      auto [it, fresh] =
          seen.emplace(spec.resource.id(), std::make_pair(spec.resource.source_location(), module));
      if (!fresh) {
        // Two modules defining one id conflict only for nodes whose targets select both.
        result.errors.push_back(CompileError{
            spec.resource.source_location(),
            absl::StrCat("duplicate id ", spec.resource.id(), " (also defined at ",
                         it->second.first, ")"),
            /*node_dependent=*/it->second.second != module});
        continue;
      }
      // Kept even when its template fails, so relations to it do not add false errors.
      AddResource(spec, context, node, catalog.get(), &result);
      relations.push_back(&spec.relations);
    }
  }
  compile::CheckRelations(*catalog, relations, &errors);
  if (!result.errors.empty() || !ok()) {
    result.blobs.clear();
    return result;
  }
  // Every resource carries its version already (static ones from parse time).
  catalog->set_digest(ComputeCatalogDigest(*catalog));
  result.catalog = std::move(catalog);
  return result;
}

std::string DesiredStateImpl::GroupKey(const NodeInputs& node) const {
  std::vector<size_t> matched = MatchTargets(node);
  compile::TemplateReads reads;
  for (const ModuleSpec* module : ModulesOf(matched)) reads.Merge(module->reads);
  std::string key;
  AppendField(&key, revision_);
  // A node whose inputs fail on their own never shares a group with nodes that compile.
  AppendField(&key, TooDeepKey(node));
  for (size_t t : matched) absl::StrAppend(&key, t, ",");
  absl::StrAppend(&key, "|");
  if (reads.node_name) AppendField(&key, node.name);
  absl::StrAppend(&key, "|");
  for (const auto& [name, value] : node.facts) {
    if (PrefixRead(reads.fact_prefixes, name)) {
      AppendField(&key, name);
      AppendField(&key, value);
    }
  }
  absl::StrAppend(&key, "|");
  for (const auto& [name, value] : node.labels) {
    if (PrefixRead(reads.label_prefixes, name)) {
      AppendField(&key, name);
      AppendField(&key, value);
    }
  }
  return Sha256Hex(key);
}

}  // namespace

std::shared_ptr<const DesiredState> DesiredState::Parse(const RepoTree& tree,
                                                        std::string revision) {
  return std::make_shared<DesiredStateImpl>(tree, std::move(revision));
}

}  // namespace plumb
