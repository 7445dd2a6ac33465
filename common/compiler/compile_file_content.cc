#include "common/compiler/compile_file_content.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/catalog.h"
#include "common/digest.h"

namespace plumb::compile {

namespace {

// Reads modules/<m>/<folder>/<path>; reports and returns nullptr when it is not there.
std::shared_ptr<const std::string> ReadModuleFile(const YamlNode& value, const ModuleContext& ctx,
                                                  absl::string_view key, absl::string_view folder,
                                                  std::string* repo_path) {
  absl::StatusOr<std::string> rel = NormalizeRelativePath(value.scalar());
  if (!rel.ok()) {
    ctx.reader->Error(value, absl::StrCat(key, " ", rel.status().message()));
    return nullptr;
  }
  *repo_path = absl::StrCat(ctx.dir, "/", folder, "/", *rel);
  absl::StatusOr<std::string> data = ctx.tree->ReadFile(*repo_path);
  if (!data.ok()) {
    ctx.reader->Error(
        value, absl::StrCat(key, " ", Quote(value.scalar()), " not found: no file ", *repo_path));
    return nullptr;
  }
  return std::make_shared<const std::string>(*std::move(data));
}

void LoadTemplate(const YamlNode& value, const ModuleContext& ctx, ResourceSpec* spec) {
  absl::StatusOr<std::string> rel = NormalizeRelativePath(value.scalar());
  std::string path = rel.ok() ? absl::StrCat(ctx.dir, "/templates/", *rel) : "";
  auto cached = ctx.templates->find(path);
  if (rel.ok() && cached != ctx.templates->end()) {
    spec->tmpl = cached->second.tmpl;
    spec->template_digest = cached->second.digest;
  } else {
    std::shared_ptr<const std::string> text =
        ReadModuleFile(value, ctx, "template", "templates", &path);
    if (text == nullptr) return;
    MustacheError error;
    std::shared_ptr<const MustacheTemplate> tmpl = MustacheTemplate::Parse(*text, &error);
    if (tmpl == nullptr) {
      ctx.errors->Add(path, YamlMark{error.line, error.column},
                      absl::StrCat("bad template: ", error.message));
    }
    spec->template_digest = Sha256Hex(*text);
    (*ctx.templates)[path] = LoadedTemplate{tmpl, spec->template_digest};
    spec->tmpl = std::move(tmpl);
  }
  spec->template_path = path;
}

}  // namespace

void ReadFileContent(const YamlNode& entry, const ModuleContext& ctx, ResourceSpec* spec) {
  const YamlNode& type_key = entry.entries().front().first;
  v1::Resource& resource = spec->resource;
  std::vector<std::pair<const YamlNode*, const YamlNode*>> given;  // key, value
  for (const auto& [key, value] : entry.entries()) {
    if (key.scalar() == "content" || key.scalar() == "source" || key.scalar() == "template") {
      given.emplace_back(&key, &value);
    }
  }
  if (StringAttribute(resource, "ensure") == "absent") {
    if (!given.empty()) {
      ctx.reader->Error(*given[0].first,
                        absl::StrCat(resource.id(), " is ensure: absent, so '",
                                     given[0].first->scalar(), "' must not be set"));
    }
    return;
  }
  if (given.empty()) {
    ctx.reader->Error(type_key,
                      absl::StrCat(resource.id(), " needs one of content, source or template"));
    return;
  }
  if (given.size() > 1) {
    ctx.reader->Error(*given[1].first, absl::StrCat(resource.id(),
                                                    ": content, source and template exclude each "
                                                    "other; got '",
                                                    given[0].first->scalar(), "' and '",
                                                    given[1].first->scalar(), "'"));
    return;
  }
  const auto& [key, value] = given[0];
  if (!value->IsScalar()) return;  // reported as a wrong type already
  std::string path;
  if (key->scalar() == "content") {
    spec->blob = std::make_shared<const std::string>(value->scalar());
  } else if (key->scalar() == "source") {
    spec->blob = ReadModuleFile(*value, ctx, "source", "files", &path);
  } else {
    LoadTemplate(*value, ctx, spec);
  }
  if (spec->blob != nullptr) {
    resource.set_content_digest(Sha256Hex(*spec->blob));
    resource.set_content_size(static_cast<int64_t>(spec->blob->size()));
  }
}

}  // namespace plumb::compile
