#pragma once

// The parsed, validated form of a desired-state repository that DesiredState compiles nodes
// from: targets from plumb.yaml and modules with their resources. Internal to the compiler
// (common/desired_state*.cc, common/compile_*.cc).

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/compiler/compiler.h"
#include "common/compiler/mustache.h"
#include "common/compiler/rollout_policy.h"
#include "common/yaml_document.h"
#include "plumb/v1/types.pb.h"

namespace plumb::compile {

// "file:LINE:COL", or just "file" when the mark is unknown.
std::string Location(const std::string& file, const YamlMark& mark);

// Collects located errors. Thread-compatible.
class ErrorList {
 public:
  explicit ErrorList(std::vector<CompileError>* errors) : errors_(errors) {}
  void Add(std::string location, std::string message) {
    errors_->push_back(CompileError{std::move(location), std::move(message)});
  }
  void Add(const std::string& file, const YamlMark& mark, std::string message) {
    Add(Location(file, mark), std::move(message));
  }
  size_t size() const { return errors_->size(); }

 private:
  std::vector<CompileError>* errors_;  // not owned; outlives this
};

// A relation (require/before/notify/subscribe) as written, for located errors.
struct RelationRef {
  std::string kind;      // "require", ...
  std::string id;        // normalized "type:name"
  std::string location;  // where the id is written
};

// The facts, labels, vars and node name that a module's (or one resource's) templates may read.
struct TemplateReads {
  bool node_name = false;
  std::set<std::string> fact_prefixes;  // "" = all facts; "os" = os and os.*
  std::set<std::string> label_prefixes;
  std::set<std::string> var_names;  // top-level var names; "" = all vars
  void Add(const MustacheTemplate& tmpl);
  void Merge(const TemplateReads& other);
};

// One resource of a module. For `content` and `source` the blob is known at parse time;
// for `template` it is rendered per node.
struct ResourceSpec {
  // Everything but a templated file's content digest and size. Without a template it is the
  // node's resource as is, and its `version` is set once at parse time (SealResource), so
  // compiling a node seals only its templated resources.
  v1::Resource resource;
  std::vector<RelationRef> relations;
  std::shared_ptr<const std::string> blob;
  std::shared_ptr<const MustacheTemplate> tmpl;
  std::string template_path;  // "modules/m/templates/x.mustache"
  std::string template_digest;  // sha256 of the template's text
  // For a templated resource: what its template reads, and RenderFingerprint (set once the
  // repository is parsed), which with those inputs keys its rendered form (render_cache.h).
  TemplateReads reads;
  std::string render_fingerprint;
};

struct ModuleSpec {
  std::string name;
  MustacheValue vars;  // a map of var name -> value
  std::vector<ResourceSpec> resources;
  TemplateReads reads;
};

struct TargetSpec {
  std::string name;
  std::string location;
  std::vector<std::string> node_globs;
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> facts;
  std::vector<std::string> modules;
  MustacheValue vars;
};

struct RepoModel {
  bool prune = false;  // plumb.yaml `prune: true`, copied into every catalog
  std::optional<RolloutPolicy> rollout;  // plumb.yaml `rollout:`, set only when valid
  MustacheValue vars;
  std::vector<TargetSpec> targets;
  std::map<std::string, ModuleSpec> modules;
};

// Converts a YAML value into a template value (scalars to strings, null to "").
MustacheValue ToMustacheValue(const YamlNode& node);

class ValueReader;

// Parses plumb.yaml's `rollout:` value into `policy`. Returns false after reporting every
// problem through `reader` (common/compiler/rollout_policy.cc).
bool ParseRolloutPolicy(const YamlNode& node, ValueReader* reader, RolloutPolicy* policy);

// Parses plumb.yaml and every module of `tree` into `model`, appending every problem found.
void ParseRepository(const RepoTree& tree, RepoModel* model, ErrorList* errors);

// Parses modules/<name>/module.yaml (and the files and templates it names) into `module`.
void ParseModule(const RepoTree& tree, const std::string& name, ModuleSpec* module,
                 ErrorList* errors);

}  // namespace plumb::compile
