// Parsing a repository into the compiler's model: plumb.yaml (version, vars, targets) and
// every module under modules/.

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/compiler/compile_resource.h"
#include "common/compiler/compile_values.h"
#include "common/compiler/desired_state_model.h"

namespace plumb::compile {

namespace {

constexpr char kPlumbYaml[] = "plumb.yaml";

// A module name as written in a target, for checking once all modules are parsed.
struct ModuleRef {
  std::string name;
  std::string location;
  std::string target;
};

// Parses `file` as YAML, reporting why not. Returns false when there is no document to read.
bool LoadYaml(const RepoTree& tree, const std::string& file, ErrorList* errors, YamlNode* root) {
  absl::StatusOr<std::string> text = tree.ReadFile(file);
  if (!text.ok()) {
    errors->Add(file, "not found in the repository");
    return false;
  }
  YamlError error;
  absl::StatusOr<YamlNode> parsed = ParseYaml(*text, file, &error);
  if (!parsed.ok()) {
    errors->Add(file, error.mark, absl::StrCat("bad YAML: ", error.message));
    return false;
  }
  *root = *std::move(parsed);
  return true;
}

// The nodes of a "one or a list" value, each to be checked by the caller.
std::vector<const YamlNode*> OneOrList(const YamlNode& node, absl::string_view key,
                                       ValueReader* reader) {
  std::vector<const YamlNode*> out;
  if (node.IsSequence()) {
    for (const YamlNode& item : node.items()) out.push_back(&item);
  } else {
    out.push_back(&node);
  }
  std::vector<const YamlNode*> scalars;
  for (const YamlNode* item : out) {
    if (item->IsScalar() && !item->scalar().empty()) {
      scalars.push_back(item);
    } else {
      reader->Error(*item, absl::StrCat(key, " must be a non-empty string or a list of them, got ",
                                        item->IsScalar() ? "an empty string" : item->KindName()));
    }
  }
  return scalars;
}

MustacheValue ReadVars(const YamlNode* node, ValueReader* reader) {
  if (node == nullptr || node->IsNull()) return MustacheValue();
  if (!node->IsMap()) {
    reader->Error(*node, absl::StrCat("vars must be a map, got ", node->KindName()));
    return MustacheValue();
  }
  return ToMustacheValue(*node);
}

void ParseTarget(const YamlNode& node, ValueReader* reader, std::set<std::string>* names,
                 TargetSpec* target, std::vector<ModuleRef>* module_refs) {
  target->location = reader->Loc(node);
  if (!reader->CheckKeys(node, {"name", "nodes", "labels", "facts", "modules", "vars"}, "target")) {
    return;
  }
  const YamlNode* name = node.Find("name");
  if (name == nullptr) {
    reader->Error(node, "target needs a 'name'");
  } else if (reader->NonEmptyString(*name, "name", &target->name) &&
             !names->insert(target->name).second) {
    reader->Error(*name, absl::StrCat("duplicate target name ", Quote(target->name)));
  }
  std::string what = absl::StrCat("target ", Quote(target->name));
  if (const YamlNode* nodes = node.Find("nodes")) {
    for (const YamlNode* glob : OneOrList(*nodes, "nodes", reader)) {
      absl::Status valid = ValidateGlob(glob->scalar());
      if (!valid.ok()) reader->Error(*glob, std::string(valid.message()));
      target->node_globs.push_back(glob->scalar());
    }
  }
  if (const YamlNode* labels = node.Find("labels"))
    reader->StringMap(*labels, "labels", &target->labels);
  if (const YamlNode* facts = node.Find("facts"))
    reader->StringMap(*facts, "facts", &target->facts);
  if (!node.Find("nodes") && !node.Find("labels") && !node.Find("facts")) {
    reader->Error(node, absl::StrCat(what,
                                     " selects no nodes: give nodes, labels or facts "
                                     "(nodes: \"*\" selects every node)"));
  }
  const YamlNode* modules = node.Find("modules");
  if (modules == nullptr) {
    reader->Error(node, absl::StrCat(what, " needs 'modules'"));
  } else {
    for (const YamlNode* module : OneOrList(*modules, "modules", reader)) {
      target->modules.push_back(module->scalar());
      module_refs->push_back(ModuleRef{module->scalar(), reader->Loc(*module), target->name});
    }
  }
  target->vars = ReadVars(node.Find("vars"), reader);
}

void ParsePlumbYaml(const RepoTree& tree, RepoModel* model, ErrorList* errors,
                    std::vector<ModuleRef>* module_refs) {
  YamlNode root;
  if (!LoadYaml(tree, kPlumbYaml, errors, &root)) return;
  ValueReader reader(kPlumbYaml, errors);
  if (root.IsNull()) {
    errors->Add(kPlumbYaml, "plumb.yaml is empty; it needs at least 'version: 1'");
    return;
  }
  if (!reader.CheckKeys(root, {"version", "vars", "targets", "prune", "rollout"}, "top-level")) {
    return;
  }
  const YamlNode* version = root.Find("version");
  if (version == nullptr) {
    reader.Error(root, "missing 'version: 1'");
  } else if (!version->IsScalar() || version->scalar() != "1") {
    reader.Error(*version,
                 absl::StrCat("unsupported version ",
                              version->IsScalar() ? version->scalar() : version->KindName(),
                              "; this server reads version: 1"));
  }
  std::string prune;
  if (const YamlNode* node = root.Find("prune")) {
    model->prune = reader.Bool(*node, "prune", &prune) && prune == "true";
  }
  model->vars = ReadVars(root.Find("vars"), &reader);
  // `rollout: ` with nothing after it is no policy, as an absent key is.
  if (const YamlNode* rollout = root.Find("rollout"); rollout != nullptr && !rollout->IsNull()) {
    RolloutPolicy policy;
    if (ParseRolloutPolicy(*rollout, &reader, &policy)) model->rollout = std::move(policy);
  }
  const YamlNode* targets = root.Find("targets");
  if (targets == nullptr || targets->IsNull()) return;
  if (!targets->IsSequence()) {
    reader.Error(*targets, absl::StrCat("targets must be a list, got ", targets->KindName()));
    return;
  }
  std::set<std::string> names;
  for (const YamlNode& item : targets->items()) {
    model->targets.emplace_back();
    ParseTarget(item, &reader, &names, &model->targets.back(), module_refs);
  }
}

}  // namespace

MustacheValue ToMustacheValue(const YamlNode& node) {
  switch (node.kind()) {
    case YamlNode::Kind::kNull:
      return MustacheValue::String("");
    case YamlNode::Kind::kScalar:
      return MustacheValue::String(node.scalar());
    case YamlNode::Kind::kSequence: {
      std::vector<MustacheValue> items;
      for (const YamlNode& item : node.items()) items.push_back(ToMustacheValue(item));
      return MustacheValue::List(std::move(items));
    }
    case YamlNode::Kind::kMap:
      break;
  }
  MustacheValue map;
  for (const auto& [key, value] : node.entries())
    *map.MutableChild(key.scalar()) = ToMustacheValue(value);
  return map;
}

void TemplateReads::Add(const MustacheTemplate& tmpl) {
  for (const std::string& name : tmpl.names()) {
    std::vector<std::string> parts = absl::StrSplit(name, absl::MaxSplits('.', 1));
    std::string rest = parts.size() > 1 ? parts[1] : "";
    if (parts[0] == "facts") fact_prefixes.insert(rest);
    if (parts[0] == "labels") label_prefixes.insert(rest);
    if (parts[0] == "node") node_name = true;
    if (parts[0] == "vars") var_names.insert(rest.substr(0, rest.find('.')));
  }
}

void TemplateReads::Merge(const TemplateReads& other) {
  node_name = node_name || other.node_name;
  fact_prefixes.insert(other.fact_prefixes.begin(), other.fact_prefixes.end());
  label_prefixes.insert(other.label_prefixes.begin(), other.label_prefixes.end());
  var_names.insert(other.var_names.begin(), other.var_names.end());
}

void ParseModule(const RepoTree& tree, const std::string& name, ModuleSpec* module,
                 ErrorList* errors) {
  module->name = name;
  ModuleContext ctx;
  ctx.tree = &tree;
  ctx.dir = absl::StrCat("modules/", name);
  std::string file = absl::StrCat(ctx.dir, "/module.yaml");
  YamlNode root;
  if (!LoadYaml(tree, file, errors, &root) || root.IsNull()) return;
  ValueReader reader(file, errors);
  if (!reader.CheckKeys(root, {"vars", "resources"}, "module")) return;
  module->vars = ReadVars(root.Find("vars"), &reader);
  const YamlNode* resources = root.Find("resources");
  if (resources == nullptr || resources->IsNull()) return;
  if (!resources->IsSequence()) {
    reader.Error(*resources, absl::StrCat("resources must be a list, got ", resources->KindName()));
    return;
  }
  std::map<std::string, LoadedTemplate> templates;
  ctx.reader = &reader;
  ctx.errors = errors;
  ctx.templates = &templates;
  std::map<std::string, std::string> seen;  // id -> where
  for (const YamlNode& item : resources->items()) {
    ResourceSpec spec;
    if (!ParseResource(item, ctx, &spec)) continue;
    auto [it, fresh] = seen.emplace(spec.resource.id(), spec.resource.source_location());
    if (!fresh) {
      errors->Add(spec.resource.source_location(),
                  absl::StrCat("duplicate id ", spec.resource.id(), " (first defined at ",
                               it->second, ")"));
      continue;
    }
    if (spec.tmpl != nullptr) {
      spec.reads.Add(*spec.tmpl);
      module->reads.Add(*spec.tmpl);
    }
    module->resources.push_back(std::move(spec));
  }
}

void ParseRepository(const RepoTree& tree, RepoModel* model, ErrorList* errors) {
  std::vector<ModuleRef> module_refs;
  ParsePlumbYaml(tree, model, errors, &module_refs);
  // Every module, used or not, so a broken one is caught before a target names it.
  absl::StatusOr<std::vector<std::string>> names = tree.ListDir("modules");
  if (names.ok()) {
    for (const std::string& name : *names) {
      std::string dir = absl::StrCat("modules/", name);
      if (!tree.ListDir(dir).ok()) continue;  // a stray file, not a module
      ParseModule(tree, name, &model->modules[name], errors);
    }
  }
  for (const ModuleRef& ref : module_refs) {
    if (!model->modules.count(ref.name)) {
      errors->Add(ref.location,
                  absl::StrCat("target ", Quote(ref.target), " names unknown module ",
                               Quote(ref.name), " (no modules/", ref.name, "/module.yaml)"));
    }
  }
}

}  // namespace plumb::compile
