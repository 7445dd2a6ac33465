#include "agent/providers/resource_attributes.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/strings/ascii.h"
#include "agent/host/command_runner.h"
#include "common/status_macros.h"

namespace plumb {
namespace {

std::string Rendered(const std::map<std::string, std::string>& map) {
  std::vector<std::string> pairs;
  for (const auto& [k, v] : map) pairs.push_back(absl::StrCat(k, "=", v));
  return absl::StrJoin(pairs, ",");
}

// Prefixes a parser's message with the attribute name: `mode "999" is not ...`.
absl::Status Named(absl::string_view name, const absl::Status& status) {
  return absl::Status(status.code(), absl::StrCat(name, " ", status.message()));
}

}  // namespace

AttributeReader::AttributeReader(const v1::Resource& resource, bool record_reads)
    : resource_(resource), type_(FindResourceType(resource.type())), record_reads_(record_reads) {}

absl::StatusOr<const AttributeDef*> AttributeReader::Declared(
    absl::string_view name, std::initializer_list<AttributeKind> kinds) {
  if (type_ == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("unknown resource type '", resource_.type(), "'"));
  }
  const AttributeDef* def = FindAttribute(*type_, name);
  if (def == nullptr) {
    return absl::InternalError(absl::StrCat("the ", type_->type, " provider reads attribute '",
                                            name, "', which common/resource_types.cc does not "
                                            "declare (no repository can set it)"));
  }
  if (std::find(kinds.begin(), kinds.end(), def->kind) == kinds.end()) {
    return absl::InternalError(absl::StrCat("the ", type_->type, " provider reads '", name,
                                            "' as another kind than its declared ",
                                            KindName(def->kind)));
  }
  return def;
}

const v1::Value* AttributeReader::Find(absl::string_view name) const {
  auto it = resource_.attributes().find(std::string(name));
  return it == resource_.attributes().end() ? nullptr : &it->second;
}

absl::StatusOr<std::string> AttributeReader::Ensure() {
  PLUMB_RETURN_IF_ERROR(Declared("ensure", {AttributeKind::kEnsure}).status());
  const v1::Value* value = Find("ensure");
  std::string ensure = value == nullptr ? std::string(type_->default_ensure) : value->str();
  const auto& allowed = type_->ensures;
  bool ok = allowed.empty() ? (value == nullptr || !ensure.empty())
                            : (value == nullptr ||
                               std::find(allowed.begin(), allowed.end(), ensure) != allowed.end());
  if (!ok) {
    return absl::InvalidArgumentError(absl::StrCat("ensure must be one of ",
                                                   absl::StrJoin(allowed, ", "), ", got \"",
                                                   ensure, "\""));
  }
  Record("ensure", ensure);
  return ensure;
}

absl::StatusOr<std::optional<bool>> AttributeReader::OptionalBool(absl::string_view name) {
  PLUMB_ASSIGN_OR_RETURN(const AttributeDef* def, Declared(name, {AttributeKind::kBool}));
  std::optional<bool> result;
  if (def->carrier == AttributeCarrier::kSensitiveFlag) {
    result = resource_.sensitive();
  } else if (const v1::Value* value = Find(name)) {
    absl::StatusOr<bool> parsed = ParseBoolText(value->str());
    if (!parsed.ok()) return Named(name, parsed.status());
    result = *parsed;
  }
  Record(name, result.has_value() ? (*result ? "true" : "false") : "");
  return result;
}

absl::StatusOr<bool> AttributeReader::Bool(absl::string_view name, bool fallback) {
  PLUMB_ASSIGN_OR_RETURN(std::optional<bool> value, OptionalBool(name));
  return value.value_or(fallback);
}

absl::StatusOr<std::optional<uint32_t>> AttributeReader::Mode(absl::string_view name) {
  PLUMB_RETURN_IF_ERROR(Declared(name, {AttributeKind::kMode}).status());
  std::optional<uint32_t> result;
  if (const v1::Value* value = Find(name)) {
    absl::StatusOr<uint32_t> mode = ParseMode(value->str());
    if (!mode.ok()) return Named(name, mode.status());
    result = *mode;
  }
  Record(name, result.has_value() ? FormatMode(*result) : "");
  return result;
}

absl::StatusOr<std::optional<uint32_t>> AttributeReader::Uint(absl::string_view name) {
  PLUMB_RETURN_IF_ERROR(Declared(name, {AttributeKind::kUint}).status());
  std::optional<uint32_t> result;
  if (const v1::Value* value = Find(name)) {
    absl::StatusOr<uint32_t> number = ParseUint32(value->str());
    if (!number.ok()) return Named(name, number.status());
    result = *number;
  }
  Record(name, result.has_value() ? absl::StrCat(*result) : "");
  return result;
}

absl::StatusOr<std::optional<absl::Duration>> AttributeReader::Duration(absl::string_view name) {
  PLUMB_RETURN_IF_ERROR(Declared(name, {AttributeKind::kDuration}).status());
  std::optional<absl::Duration> result;
  if (const v1::Value* value = Find(name)) {
    absl::StatusOr<absl::Duration> duration = ParseDurationText(value->str());
    if (!duration.ok()) return Named(name, duration.status());
    result = *duration;
  }
  Record(name, result.has_value() ? absl::FormatDuration(*result) : "");
  return result;
}

absl::StatusOr<std::string> AttributeReader::String(absl::string_view name) {
  PLUMB_RETURN_IF_ERROR(Declared(name, {AttributeKind::kText, AttributeKind::kString,
                                        AttributeKind::kPath, AttributeKind::kAccount})
                            .status());
  const v1::Value* value = Find(name);
  std::string text = value == nullptr ? std::string() : value->str();
  Record(name, text);
  return text;
}

absl::StatusOr<std::vector<std::string>> AttributeReader::List(absl::string_view name) {
  PLUMB_RETURN_IF_ERROR(Declared(name, {AttributeKind::kList}).status());
  std::vector<std::string> items;
  if (const v1::Value* value = Find(name)) {
    if (value->kind_case() == v1::Value::kList) {
      items.assign(value->list().items().begin(), value->list().items().end());
    } else {
      // A string is a comma-separated list ("wheel, adm"), as agents have always read it.
      for (absl::string_view part : absl::StrSplit(value->str(), ',', absl::SkipEmpty())) {
        part = absl::StripAsciiWhitespace(part);
        if (!part.empty()) items.emplace_back(part);
      }
    }
  }
  Record(name, absl::StrJoin(items, ","));
  return items;
}

absl::StatusOr<std::map<std::string, std::string>> AttributeReader::Map(absl::string_view name) {
  PLUMB_RETURN_IF_ERROR(Declared(name, {AttributeKind::kMap}).status());
  std::map<std::string, std::string> map;
  const v1::Value* value = Find(name);
  if (value != nullptr && value->kind_case() == v1::Value::kMap) {
    map.insert(value->map().entries().begin(), value->map().entries().end());
  }
  Record(name, Rendered(map));
  return map;
}

absl::StatusOr<std::vector<std::string>> AttributeReader::Command(absl::string_view name) {
  PLUMB_RETURN_IF_ERROR(Declared(name, {AttributeKind::kCommand}).status());
  std::vector<std::string> argv;
  if (const v1::Value* value = Find(name)) {
    if (value->kind_case() == v1::Value::kList) {
      argv.assign(value->list().items().begin(), value->list().items().end());
    } else if (value->kind_case() == v1::Value::kStr && !value->str().empty()) {
      argv = ShellArgv(value->str());
    }
  }
  Record(name, absl::StrJoin(argv, " "));
  return argv;
}

absl::StatusOr<std::string> AttributeReader::ContentDigest() {
  if (type_ == nullptr) return Declared("content", {}).status();
  bool declared = false;
  for (const AttributeDef& def : type_->attributes) {
    if (def.carrier != AttributeCarrier::kContentDigest) continue;
    declared = true;
    Record(def.name, resource_.content_digest());
  }
  if (!declared) {
    return absl::InternalError(absl::StrCat("the ", type_->type,
                                            " provider reads a content digest, which "
                                            "common/resource_types.cc does not declare"));
  }
  return resource_.content_digest();
}

absl::StatusOr<MetadataSpec> ParseMetadataSpec(AttributeReader& attrs) {
  MetadataSpec spec;
  PLUMB_ASSIGN_OR_RETURN(spec.mode, attrs.Mode("mode"));
  PLUMB_ASSIGN_OR_RETURN(spec.owner, attrs.String("owner"));
  PLUMB_ASSIGN_OR_RETURN(spec.group, attrs.String("group"));
  return spec;
}

absl::StatusOr<DesiredMetadata> DesiredMetadataOf(const MetadataSpec& spec, Filesystem* fs) {
  DesiredMetadata desired;
  desired.metadata.mode = spec.mode;
  if (!spec.owner.empty()) {
    absl::StatusOr<uint32_t> uid = fs->LookupUser(spec.owner);
    if (uid.ok()) {
      desired.metadata.uid = *uid;
    } else if (absl::IsNotFound(uid.status())) {
      desired.unresolved.push_back(absl::StrCat("owner \"", spec.owner, "\" does not exist"));
    } else {
      return uid.status();
    }
  }
  if (!spec.group.empty()) {
    absl::StatusOr<uint32_t> gid = fs->LookupGroup(spec.group);
    if (gid.ok()) {
      desired.metadata.gid = *gid;
    } else if (absl::IsNotFound(gid.status())) {
      desired.unresolved.push_back(absl::StrCat("group \"", spec.group, "\" does not exist"));
    } else {
      return gid.status();
    }
  }
  return desired;
}

absl::StatusOr<DesiredMetadata> DesiredMetadataOf(const v1::Resource& resource, Filesystem* fs) {
  AttributeReader attrs(resource);
  PLUMB_ASSIGN_OR_RETURN(MetadataSpec spec, ParseMetadataSpec(attrs));
  return DesiredMetadataOf(spec, fs);
}

std::vector<std::string> MetadataChanges(const FileStat& current, const FileMetadata& desired) {
  std::vector<std::string> changes;
  if (desired.mode && *desired.mode != current.mode) {
    changes.push_back(
        absl::StrCat("mode ", FormatMode(current.mode), " -> ", FormatMode(*desired.mode)));
  }
  if (desired.uid && *desired.uid != current.uid) {
    changes.push_back(absl::StrCat("owner ", current.uid, " -> ", *desired.uid));
  }
  if (desired.gid && *desired.gid != current.gid) {
    changes.push_back(absl::StrCat("group ", current.gid, " -> ", *desired.gid));
  }
  return changes;
}

}  // namespace plumb
