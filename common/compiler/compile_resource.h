#pragma once

// Parses and validates one resource entry of a module.yaml against the definition of its type
// in common/resource_types.h (file, directory, symlink, exec, package, service, user, group)
// and reads the files and templates it names.

#include <map>
#include <memory>
#include <string>

#include "common/compiler/compile_values.h"
#include "common/compiler/desired_state_model.h"
#include "common/compiler/repo_tree.h"
#include "common/yaml_document.h"

namespace plumb::compile {

// What resource parsing needs from the module being parsed. Pointers are not owned; the
// module parse that builds this outlives every ParseResource call.
// A template read by a module: parsed (nullptr when it failed, already reported) and the
// sha256 of its text.
struct LoadedTemplate {
  std::shared_ptr<const MustacheTemplate> tmpl;
  std::string digest;
};

struct ModuleContext {
  const RepoTree* tree;
  std::string dir;  // "modules/<name>"
  ValueReader* reader;
  ErrorList* errors;
  // Templates parsed so far, by repository path; nullptr for one that failed (already
  // reported), so a template used twice is read and reported once.
  std::map<std::string, LoadedTemplate>* templates;
};

// Parses `entry` into `spec`. Returns false (after reporting) when the entry has no usable
// type and name, so there is nothing to keep; attribute problems are reported but the
// resource is kept, so references to it still resolve and errors do not cascade.
bool ParseResource(const YamlNode& entry, const ModuleContext& ctx, ResourceSpec* spec);

// True for types whose names are absolute paths (file, directory, symlink).
bool IsPathType(absl::string_view type);
// True for the eight resource types of the contract.
bool IsKnownType(absl::string_view type);

}  // namespace plumb::compile
