#pragma once

// The content of a `file` resource: exactly one of `content` (inline), `source` (a file under
// modules/<m>/files/) or `template` (a mustache template under modules/<m>/templates/,
// rendered per node), unless the file is `ensure: absent`.

#include "common/compiler/compile_resource.h"
#include "common/compiler/desired_state_model.h"
#include "common/yaml_document.h"

namespace plumb::compile {

// Checks the content attributes of file resource `entry` and loads what they name: sets the
// blob and content digest for content/source, the parsed template for template. Reports
// conflicts, missing content, missing files and template syntax errors.
void ReadFileContent(const YamlNode& entry, const ModuleContext& ctx, ResourceSpec* spec);

}  // namespace plumb::compile
