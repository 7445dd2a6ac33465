#include "agent/providers/resource_attributes.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/catalog.h"
#include "common/status_macros.h"

namespace plumb {

absl::StatusOr<bool> BoolAttribute(const v1::Resource& resource, const std::string& key,
                                   bool fallback) {
  if (!HasAttribute(resource, key)) return fallback;
  std::string value = absl::AsciiStrToLower(StringAttribute(resource, key));
  if (value == "true" || value == "yes" || value == "1") return true;
  if (value == "false" || value == "no" || value == "0") return false;
  return absl::InvalidArgumentError(
      absl::StrCat(key, " must be true or false, got \"", StringAttribute(resource, key), "\""));
}

absl::StatusOr<std::string> EnumAttribute(const v1::Resource& resource, const std::string& key,
                                          const std::vector<std::string>& allowed,
                                          const std::string& fallback) {
  if (!HasAttribute(resource, key)) return fallback;
  std::string value = StringAttribute(resource, key);
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return value;
  return absl::InvalidArgumentError(
      absl::StrCat(key, " must be one of ", absl::StrJoin(allowed, ", "), ", got \"", value, "\""));
}

std::vector<std::string> ListAttribute(const v1::Resource& resource, const std::string& key,
                                       bool split_commas) {
  std::vector<std::string> out;
  auto it = resource.attributes().find(key);
  if (it == resource.attributes().end()) return out;
  if (it->second.kind_case() == v1::Value::kList) {
    for (const std::string& item : it->second.list().items()) out.push_back(item);
  } else if (it->second.kind_case() == v1::Value::kStr) {
    if (!split_commas) {
      out.push_back(it->second.str());
    } else {
      for (absl::string_view part : absl::StrSplit(it->second.str(), ',', absl::SkipEmpty())) {
        part = absl::StripAsciiWhitespace(part);
        if (!part.empty()) out.emplace_back(part.data(), part.size());
      }
    }
  }
  return out;
}

std::map<std::string, std::string> MapAttribute(const v1::Resource& resource,
                                                const std::string& key) {
  std::map<std::string, std::string> out;
  auto it = resource.attributes().find(key);
  if (it == resource.attributes().end() || it->second.kind_case() != v1::Value::kMap) return out;
  for (const auto& [k, v] : it->second.map().entries()) out[k] = v;
  return out;
}

absl::StatusOr<DesiredMetadata> DesiredMetadataOf(const v1::Resource& resource, Filesystem* fs) {
  DesiredMetadata desired;
  if (HasAttribute(resource, "mode")) {
    PLUMB_ASSIGN_OR_RETURN(desired.metadata.mode, ParseMode(StringAttribute(resource, "mode")));
  }
  std::string owner = StringAttribute(resource, "owner");
  if (!owner.empty()) {
    absl::StatusOr<uint32_t> uid = fs->LookupUser(owner);
    if (uid.ok()) {
      desired.metadata.uid = *uid;
    } else if (absl::IsNotFound(uid.status())) {
      desired.unresolved.push_back(absl::StrCat("owner \"", owner, "\" does not exist"));
    } else {
      return uid.status();
    }
  }
  std::string group = StringAttribute(resource, "group");
  if (!group.empty()) {
    absl::StatusOr<uint32_t> gid = fs->LookupGroup(group);
    if (gid.ok()) {
      desired.metadata.gid = *gid;
    } else if (absl::IsNotFound(gid.status())) {
      desired.unresolved.push_back(absl::StrCat("group \"", group, "\" does not exist"));
    } else {
      return gid.status();
    }
  }
  return desired;
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
