#include "common/compiler/compile_resource.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/catalog.h"
#include "common/compiler/compile_file_content.h"
#include "common/resource_types.h"

namespace plumb::compile {

namespace {

// The schema is common/resource_types.cc, shared with the agent's providers.
using TypeSpec = ResourceTypeDef;
using AttrSpec = AttributeDef;
using AttrKind = AttributeKind;

const TypeSpec* FindType(absl::string_view type) { return FindResourceType(type); }

const AttrSpec* FindAttr(const TypeSpec& type, absl::string_view name) {
  return FindAttribute(type, name);
}

constexpr absl::string_view kRelations[] = {"require", "before", "notify", "subscribe"};

std::string KnownTypes() {
  std::vector<absl::string_view> names;
  for (const TypeSpec& spec : ResourceTypes()) names.push_back(spec.type);
  return absl::StrJoin(names, ", ");
}

std::string KnownAttrs(const TypeSpec& type) {
  std::vector<absl::string_view> names;
  for (const AttrSpec& attr : type.attributes) names.push_back(attr.name);
  for (absl::string_view rel : kRelations) names.push_back(rel);
  return absl::StrJoin(names, ", ");
}

v1::Value StrValue(std::string text) {
  v1::Value value;
  value.set_str(std::move(text));
  return value;
}

v1::Value ListValue(const std::vector<std::string>& items) {
  v1::Value value;
  for (const std::string& item : items) value.mutable_list()->add_items(item);
  return value;
}

// Reads one attribute value per its kind. Returns false after reporting.
bool ReadAttr(const TypeSpec& type, const AttrSpec& attr, const YamlNode& node, ValueReader* reader,
              v1::Value* out) {
  std::string text;
  std::vector<std::string> list;
  switch (attr.kind) {
    case AttrKind::kText:  // may be empty: an empty file is fine
      if (!reader->String(node, attr.name, &text)) return false;
      break;
    case AttrKind::kString:
      if (!reader->NonEmptyString(node, attr.name, &text)) return false;
      break;
    case AttrKind::kBool:
      if (!reader->Bool(node, attr.name, &text)) return false;
      break;
    case AttrKind::kUint:
      if (!reader->Uint(node, attr.name, &text)) return false;
      break;
    case AttrKind::kDuration:
      if (!reader->Duration(node, attr.name, &text)) return false;
      break;
    case AttrKind::kMode:
      if (!reader->Mode(node, attr.name, &text)) return false;
      break;
    case AttrKind::kPath:
      if (!reader->AbsolutePath(node, attr.name, &text)) return false;
      break;
    case AttrKind::kAccount:  // a number or a group name
      if (!reader->NonEmptyString(node, attr.name, &text)) return false;
      break;
    case AttrKind::kEnsure:
      if (!reader->NonEmptyString(node, attr.name, &text)) return false;
      if (!type.ensures.empty() &&
          std::find(type.ensures.begin(), type.ensures.end(), text) == type.ensures.end()) {
        reader->Error(node, absl::StrCat("ensure for ", type.type, " must be one of ",
                                         absl::StrJoin(type.ensures, ", "), "; got ", Quote(text)));
        return false;
      }
      break;
    case AttrKind::kCommand:
      if (node.IsSequence()) {
        if (!reader->List(node, attr.name, &list)) return false;
        if (list.empty()) {
          reader->Error(node, absl::StrCat(attr.name, " must not be an empty list"));
          return false;
        }
        *out = ListValue(list);
        return true;
      }
      if (!reader->NonEmptyString(node, attr.name, &text)) return false;
      break;
    case AttrKind::kList:
      if (!reader->List(node, attr.name, &list)) return false;
      *out = ListValue(list);
      return true;
    case AttrKind::kMap: {
      std::map<std::string, std::string> map;
      if (!reader->StringMap(node, attr.name, &map)) return false;
      for (const auto& [k, v] : map) (*out->mutable_map()->mutable_entries())[k] = v;
      return true;
    }
  }
  *out = StrValue(std::move(text));
  return true;
}

// Reads a relation: one id or a list of ids, each "type:name" of a known type.
void ReadRelation(absl::string_view kind, const YamlNode& node, ValueReader* reader,
                  ResourceSpec* spec) {
  std::vector<const YamlNode*> items;
  if (node.IsScalar()) {
    items.push_back(&node);
  } else if (node.IsSequence()) {
    for (const YamlNode& item : node.items()) items.push_back(&item);
  } else {
    reader->Error(node,
                  absl::StrCat(kind, " must be an id or a list of ids, got ", node.KindName()));
    return;
  }
  for (const YamlNode* item : items) {
    if (!item->IsScalar()) {
      reader->Error(*item, absl::StrCat(kind, " items must be ids, got ", item->KindName()));
      continue;
    }
    const std::string& ref = item->scalar();
    size_t colon = ref.find(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == ref.size()) {
      reader->Error(*item, absl::StrCat(kind, " ", Quote(ref),
                                        " is not a resource id like \"service:nginx\""));
      continue;
    }
    std::string type = ref.substr(0, colon);
    std::string name = ref.substr(colon + 1);
    if (!IsKnownType(type)) {
      reader->Error(
          *item, absl::StrCat(kind, " ", Quote(ref), " names unknown resource type '", type, "'"));
      continue;
    }
    if (IsPathType(type)) {
      absl::StatusOr<std::string> path = NormalizeAbsolutePath(name);
      if (!path.ok()) {
        reader->Error(*item, absl::StrCat(kind, " ", Quote(ref), ": ", path.status().message()));
        continue;
      }
      name = *path;
    }
    std::string id = ResourceId(type, name);
    auto* field = kind == "require"  ? spec->resource.mutable_require()
                  : kind == "before" ? spec->resource.mutable_before()
                  : kind == "notify" ? spec->resource.mutable_notify()
                                     : spec->resource.mutable_subscribe();
    *field->Add() = id;
    spec->relations.push_back(RelationRef{std::string(kind), id, reader->Loc(*item)});
  }
}

bool ParseName(const TypeSpec& type, const YamlNode& key, const YamlNode& value,
               ValueReader* reader, std::string* name) {
  if (!value.IsScalar() || value.scalar().empty()) {
    reader->Error(value.IsNull() ? key : value,
                  absl::StrCat(type.type, " needs a name after '", type.type, ":', got ",
                               value.IsScalar() ? "an empty string" : value.KindName()));
    return false;
  }
  if (IsPathType(type.type)) {
    absl::StatusOr<std::string> path = NormalizeAbsolutePath(value.scalar());
    if (!path.ok()) {
      reader->Error(value, absl::StrCat(type.type, " name ", path.status().message()));
      return false;
    }
    if (*path == "/") {
      reader->Error(value, absl::StrCat(type.type, " name ", Quote(value.scalar()),
                                        " must name something below /"));
      return false;
    }
    *name = *path;
    return true;
  }
  *name = value.scalar();
  if (HasControlCharacter(*name)) {
    reader->Error(value, absl::StrCat(type.type, " name ", Quote(absl::CEscape(*name)),
                                      " contains a control character"));
    return false;
  }
  bool spaces =
      std::any_of(name->begin(), name->end(), [](char c) { return absl::ascii_isspace(c); });
  if (type.type != "exec" && spaces) {
    // exec names are labels; packages, services, users and groups are system names.
    reader->Error(value,
                  absl::StrCat(type.type, " name ", Quote(*name), " must not contain whitespace"));
    return false;
  }
  return true;
}

// Reports attributes a resource must have that are not written at all (a wrong value was
// reported where it is written).
void CheckRequired(const TypeSpec& type, const YamlNode& entry, ValueReader* reader,
                   const v1::Resource& resource) {
  const YamlNode& type_key = entry.entries().front().first;
  bool absent = StringAttribute(resource, "ensure") == "absent";
  for (const AttrSpec& attr : type.attributes) {
    bool required = attr.requirement == Requirement::kRequired ||
                    (attr.requirement == Requirement::kRequiredUnlessAbsent && !absent);
    if (required && entry.Find(attr.name) == nullptr) {
      reader->Error(type_key, absl::StrCat(resource.id(), " needs attribute '", attr.name, "'"));
    }
  }
}

}  // namespace

bool IsPathType(absl::string_view type) {
  const TypeSpec* spec = FindType(type);
  return spec != nullptr && spec->path_named;
}

bool IsKnownType(absl::string_view type) { return FindType(type) != nullptr; }

// The first key of `entry` is no type: says so, or that the type comes later in the map.
static void ReportUnknownType(const YamlNode& entry, ValueReader* reader) {
  const YamlNode& type_key = entry.entries().front().first;
  for (const auto& [key, value] : entry.entries()) {
    if (FindType(key.scalar()) != nullptr) {
      reader->Error(type_key, absl::StrCat("a resource must start with its type: move '",
                                           key.scalar(), ": ...' (line ", key.mark().line,
                                           ") before '", type_key.scalar(), "'"));
      return;
    }
  }
  reader->Error(type_key,
                absl::StrCat("unknown resource type '", type_key.scalar(),
                             "' (a resource starts with its type, one of ", KnownTypes(), ")"));
}

bool ParseResource(const YamlNode& entry, const ModuleContext& ctx, ResourceSpec* spec) {
  ValueReader* reader = ctx.reader;
  if (!entry.IsMap() || entry.entries().empty()) {
    reader->Error(entry, absl::StrCat("a resource must be a map starting with its type, like "
                                      "'- file: /etc/motd'; got ",
                                      entry.KindName()));
    return false;
  }
  const auto& [type_key, type_value] = entry.entries().front();
  const TypeSpec* type = FindType(type_key.scalar());
  if (type == nullptr) {
    ReportUnknownType(entry, reader);
    return false;
  }
  std::string name;
  if (!ParseName(*type, type_key, type_value, reader, &name)) return false;
  v1::Resource& resource = spec->resource;
  resource.set_type(std::string(type->type));
  resource.set_name(name);
  resource.set_id(ResourceId(type->type, name));
  resource.set_source_location(reader->Loc(type_key));

  for (size_t i = 1; i < entry.entries().size(); ++i) {
    const auto& [key, value] = entry.entries()[i];
    const std::string& attr_name = key.scalar();
    if (std::find(std::begin(kRelations), std::end(kRelations), attr_name) !=
        std::end(kRelations)) {
      ReadRelation(attr_name, value, reader, spec);
      continue;
    }
    const AttrSpec* attr = FindAttr(*type, attr_name);
    if (attr == nullptr) {
      reader->Error(key, absl::StrCat("unknown attribute '", attr_name, "' for ", type->type,
                                      " (expected one of ", KnownAttrs(*type), ")"));
      continue;
    }
    v1::Value parsed;
    if (!ReadAttr(*type, *attr, value, reader, &parsed)) continue;
    // Where the value travels is the registry's to say (see AttributeCarrier); content,
    // source and template become the content digest in ReadFileContent below.
    if (attr->carrier == AttributeCarrier::kSensitiveFlag) {
      resource.set_sensitive(parsed.str() == "true");
    } else if (attr->carrier == AttributeCarrier::kAttributes) {
      (*resource.mutable_attributes())[attr_name] = std::move(parsed);
    }
  }
  if (!type->default_ensure.empty() && !resource.attributes().count("ensure")) {
    (*resource.mutable_attributes())["ensure"] = StrValue(std::string(type->default_ensure));
  }
  if (type->type == "file") ReadFileContent(entry, ctx, spec);
  CheckRequired(*type, entry, reader, resource);
  return true;
}

}  // namespace plumb::compile
