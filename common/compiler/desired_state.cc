// DesiredState: a parsed repository (common/compiler/desired_state_parse.cc) and the per-node compile:
// target matching, var precedence, template rendering, relation checks, sealing.

#include <fnmatch.h>

#include <algorithm>
#include <atomic>
#include <optional>
#include <set>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/catalog.h"
#include "common/compiler/compile_graph.h"
#include "common/compiler/compiler.h"
#include "common/compiler/desired_state_model.h"
#include "common/compiler/render_cache.h"
#include "common/digest.h"
#include "google/protobuf/arena.h"

namespace plumb {

namespace {

using compile::ErrorList;
using compile::ModuleSpec;
using compile::RenderedResource;
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

// Renders `spec`'s template against `context` into a sealed resource and its content (also
// returned in `blob`), or the resource as written and the error.
std::shared_ptr<const RenderedResource> Render(const ResourceSpec& spec,
                                               const MustacheValue& context,
                                               std::shared_ptr<const std::string>* blob_out) {
  auto rendered = std::make_shared<RenderedResource>();
  rendered->resource = spec.resource;
  std::string out;
  MustacheError error;
  if (!spec.tmpl->Render(context, &out, &error)) {
    rendered->error =
        CompileError{compile::Location(spec.template_path, YamlMark{error.line, error.column}),
                     // No node name here: nodes of one group must get identical results.
                     absl::StrCat(error.message, " (rendering ", spec.resource.id(), ")"),
                     ReadsNodeInput(error)};
    return rendered;
  }
  auto blob = std::make_shared<const std::string>(std::move(out));
  v1::Resource* resource = &rendered->resource;
  resource->set_content_digest(Sha256Hex(*blob));
  resource->set_content_size(static_cast<int64_t>(blob->size()));
  SealResource(resource);
  rendered->blob = blob;
  *blob_out = std::move(blob);
  return rendered;
}

void AppendField(std::string* out, absl::string_view text) {
  absl::StrAppend(out, text.size(), ":", text, ";");
}

class DesiredStateImpl;

// A compiled catalog whose resources are not copies: its repeated field (on `arena`) points at
// the resources of the parsed repository (static ones, identical on every node) and at the
// rendered ones, which many nodes' catalogs share. Owns what those pointers need: the parsed
// state and the rendered resources. The catalog is immutable once compiled.
struct SharedCatalog {
  google::protobuf::Arena arena;
  std::shared_ptr<const DesiredStateImpl> state;
  std::vector<std::shared_ptr<const RenderedResource>> rendered;
};

// Appends `resource`, not owned, to the arena-allocated `catalog`: an arena's repeated field
// never deletes its elements, and SharedCatalog keeps `resource` alive as long as `catalog`.
void AddShared(const v1::Resource& resource, v1::Catalog* catalog) {
  catalog->mutable_resources()->UnsafeArenaAddAllocated(const_cast<v1::Resource*>(&resource));
}

class DesiredStateImpl : public DesiredState,
                         public std::enable_shared_from_this<DesiredStateImpl> {
 public:
  DesiredStateImpl(const RepoTree& tree, std::string revision, const DesiredState* previous)
      : revision_(std::move(revision)) {
    ErrorList errors(&errors_);
    compile::ParseRepository(tree, &model_, &errors);
    // A resource without a template is the same on every node: version it once, here.
    std::set<std::string> fingerprints;
    for (auto& [name, module] : model_.modules) {
      for (ResourceSpec& spec : module.resources) {
        if (spec.tmpl == nullptr) {
          SealResource(&spec.resource);
        } else {
          spec.render_fingerprint = compile::RenderFingerprint(spec);
          fingerprints.insert(spec.render_fingerprint);
        }
      }
    }
    auto* before = dynamic_cast<const DesiredStateImpl*>(previous);
    if (before != nullptr && errors_.empty()) cache_.CarryFrom(before->cache_, fingerprints);
  }

  const std::string& revision() const override { return revision_; }
  const std::vector<CompileError>& errors() const override { return errors_; }
  const RolloutPolicy* rollout() const override {
    return model_.rollout.has_value() ? &*model_.rollout : nullptr;
  }

  NodeCompileResult CompileNode(const NodeInputs& node) const override;
  std::string GroupKey(const NodeInputs& node) const override;
  CompileStats stats() const override {
    return CompileStats{rendered_.load(), reused_.load()};
  }

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

  // One node's compile of one module: what its templates see, built only when a template
  // is not in cache_.
  struct ModuleScope {
    const NodeInputs* node;
    const ModuleSpec* module;
    compile::VarsView vars;
    std::optional<MustacheValue>* context;  // the node's, shared by its modules
    bool context_vars_set = false;          // context's vars are this module's
  };
  compile::VarsView VarsOf(const ModuleSpec& module, const std::vector<size_t>& matched) const;

  // Adds `spec` to `catalog`: a copy of the resource as written, or its template rendered
  // (or reused from cache_); false on a render error.
  bool AddResource(const ResourceSpec& spec, ModuleScope* scope, SharedCatalog* shared,
                   v1::Catalog* catalog, NodeCompileResult* result) const;

  std::string revision_;
  compile::RepoModel model_;
  std::vector<CompileError> errors_;
  mutable compile::RenderCache cache_;
  mutable std::atomic<int64_t> rendered_{0};
  mutable std::atomic<int64_t> reused_{0};
};

compile::VarsView DesiredStateImpl::VarsOf(const ModuleSpec& module,
                                           const std::vector<size_t>& matched) const {
  std::vector<const MustacheValue*> targets;
  for (size_t t : matched) targets.push_back(&model_.targets[t].vars);
  return compile::VarsView(&module.vars, &model_.vars, std::move(targets));
}

bool DesiredStateImpl::AddResource(const ResourceSpec& spec, ModuleScope* scope,
                                   SharedCatalog* shared, v1::Catalog* catalog,
                                   NodeCompileResult* result) const {
  if (spec.tmpl == nullptr) {
    AddShared(spec.resource, catalog);
    if (spec.blob != nullptr) result->blobs.emplace(spec.resource.content_digest(), spec.blob);
    return true;
  }
  std::string key = compile::RenderKey(spec, *scope->node, scope->vars);
  std::shared_ptr<const RenderedResource> rendered = cache_.Find(key);
  std::shared_ptr<const std::string> blob;
  if (rendered != nullptr && !rendered->error.has_value()) blob = rendered->blob.lock();
  if (rendered != nullptr && (rendered->error.has_value() || blob != nullptr)) {
    reused_.fetch_add(1, std::memory_order_relaxed);
  } else {
    std::optional<MustacheValue>& context = *scope->context;
    if (!context.has_value()) context = NodeContext(*scope->node);
    if (!scope->context_vars_set) {
      MustacheValue* vars = context->MutableChild("vars");
      *vars = scope->module->vars;
      Overlay(model_.vars, vars);
      for (const MustacheValue* level : scope->vars.targets()) Overlay(*level, vars);
      scope->context_vars_set = true;
    }
    rendered = Render(spec, *context, &blob);
    cache_.Insert(key, rendered);
    rendered_.fetch_add(1, std::memory_order_relaxed);
  }
  AddShared(rendered->resource, catalog);
  shared->rendered.push_back(rendered);
  if (rendered->error.has_value()) {
    result->errors.push_back(*rendered->error);
    return false;
  }
  result->blobs.emplace(rendered->resource.content_digest(), std::move(blob));
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
  auto shared = std::make_shared<SharedCatalog>();
  shared->state = shared_from_this();
  auto* catalog = google::protobuf::Arena::CreateMessage<v1::Catalog>(&shared->arena);
  catalog->set_revision(revision_);
  catalog->set_prune(model_.prune);
  std::vector<const std::vector<compile::RelationRef>*> relations;
  // id -> where, module
  absl::flat_hash_map<absl::string_view, std::pair<absl::string_view, const ModuleSpec*>> seen;
  std::optional<MustacheValue> context;
  for (const ModuleSpec* module : ModulesOf(matched)) {
    ModuleScope scope{&node, module, VarsOf(*module, matched), &context};
    for (const ResourceSpec& spec : module->resources) {
      auto [it, fresh] =
          seen.emplace(spec.resource.id(),
                       std::make_pair(absl::string_view(spec.resource.source_location()), module));
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
      AddResource(spec, &scope, shared.get(), catalog, &result);
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
  result.catalog = std::shared_ptr<const v1::Catalog>(std::move(shared), catalog);
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

std::shared_ptr<const DesiredState> DesiredState::Parse(const RepoTree& tree, std::string revision,
                                                        const DesiredState* previous) {
  return std::make_shared<DesiredStateImpl>(tree, std::move(revision), previous);
}

}  // namespace plumb
