#include "agent/providers/directory_provider.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "agent/providers/resource_attributes.h"
#include "common/status_macros.h"

namespace plumb {
namespace {

absl::StatusOr<DirectorySpec> SpecOf(const v1::Resource& resource) {
  AttributeReader attrs(resource);
  return ParseDirectorySpec(attrs);
}

}  // namespace

absl::StatusOr<DirectorySpec> ParseDirectorySpec(AttributeReader& attrs) {
  DirectorySpec spec;
  PLUMB_ASSIGN_OR_RETURN(std::string ensure, attrs.Ensure());
  spec.present = ensure != "absent";
  PLUMB_ASSIGN_OR_RETURN(spec.force, attrs.Bool("force", false));
  PLUMB_ASSIGN_OR_RETURN(spec.metadata, ParseMetadataSpec(attrs));
  return spec;
}

absl::StatusOr<CheckResult> DirectoryProvider::Check(const v1::Resource& resource) {
  const std::string& path = resource.name();
  PLUMB_ASSIGN_OR_RETURN(DirectorySpec spec, SpecOf(resource));
  PLUMB_ASSIGN_OR_RETURN(FileStat stat, fs_->Stat(path));
  CheckResult check;
  if (!spec.present) {
    if (stat.type == FileType::kMissing) return check;
    if (stat.type != FileType::kDirectory) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is not a directory; a directory resource does not remove it"));
    }
    check.in_sync = false;
    check.message = spec.force ? "directory present, to be removed with its contents"
                               : "directory present, to be removed";
    return check;
  }
  PLUMB_ASSIGN_OR_RETURN(DesiredMetadata desired, DesiredMetadataOf(spec.metadata, fs_));
  std::vector<std::string> changes;
  switch (stat.type) {
    case FileType::kMissing:
      changes.push_back("directory missing, to be created");
      break;
    case FileType::kSymlink:
      changes.push_back("a symlink is in the way, to be replaced by the directory");
      break;
    case FileType::kRegular:
    case FileType::kOther:
      if (!spec.force) {
        return absl::FailedPreconditionError(absl::StrCat(
            path, " exists and is not a directory; refusing to replace it unless force: true"));
      }
      changes.push_back("a file is in the way, to be replaced by the directory (force)");
      break;
    case FileType::kDirectory:
      changes = MetadataChanges(stat, desired.metadata);
      break;
  }
  changes.insert(changes.end(), desired.unresolved.begin(), desired.unresolved.end());
  if (changes.empty()) return check;
  check.in_sync = false;
  check.message = absl::StrJoin(changes, "; ");
  return check;
}

absl::StatusOr<ChangeResult> DirectoryProvider::Apply(const v1::Resource& resource,
                                                      const CheckResult& check) {
  const std::string& path = resource.name();
  PLUMB_ASSIGN_OR_RETURN(DirectorySpec spec, SpecOf(resource));
  PLUMB_ASSIGN_OR_RETURN(FileStat stat, fs_->Stat(path));
  if (!spec.present) {
    if (stat.type == FileType::kMissing) return ChangeResult{false, ""};
    if (stat.type != FileType::kDirectory) {
      return absl::FailedPreconditionError(absl::StrCat(path, " is not a directory"));
    }
    absl::Status removed = spec.force ? fs_->RemoveTree(path) : fs_->Remove(path);
    if (!removed.ok() && !spec.force && absl::IsFailedPrecondition(removed)) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is not empty; set force: true to remove it with its contents"));
    }
    PLUMB_RETURN_IF_ERROR(removed);
    return ChangeResult{true, "removed"};
  }
  PLUMB_ASSIGN_OR_RETURN(DesiredMetadata desired, DesiredMetadataOf(spec.metadata, fs_));
  if (!desired.unresolved.empty()) {
    return absl::FailedPreconditionError(absl::StrJoin(desired.unresolved, "; "));
  }
  if (stat.type == FileType::kDirectory) {
    std::vector<std::string> meta = MetadataChanges(stat, desired.metadata);
    if (meta.empty()) return ChangeResult{false, ""};
    PLUMB_RETURN_IF_ERROR(fs_->SetMetadata(path, desired.metadata));
    return ChangeResult{true, absl::StrJoin(meta, "; ")};
  }
  std::string message = "created";
  if (stat.type == FileType::kSymlink || stat.type == FileType::kRegular ||
      stat.type == FileType::kOther) {
    if (stat.type != FileType::kSymlink && !spec.force) {
      return absl::FailedPreconditionError(absl::StrCat(
          path, " exists and is not a directory; refusing to replace it unless force: true"));
    }
    PLUMB_RETURN_IF_ERROR(fs_->Remove(path));
    message = stat.type == FileType::kSymlink ? "replaced a symlink with the directory"
                                              : "replaced a file with the directory";
  }
  PLUMB_RETURN_IF_ERROR(fs_->MakeDirectory(path, desired.metadata));
  return ChangeResult{true, message, stat.type == FileType::kMissing};
}

}  // namespace plumb
