#include "agent/providers/symlink_provider.h"

#include "absl/strings/str_cat.h"
#include "agent/providers/resource_attributes.h"
#include "common/catalog.h"
#include "common/status_macros.h"

namespace plumb {
namespace {

absl::StatusOr<SymlinkSpec> SpecOf(const v1::Resource& resource) {
  AttributeReader attrs(resource);
  return ParseSymlinkSpec(attrs);
}

absl::Status RefuseDirectory(const std::string& path) {
  return absl::FailedPreconditionError(
      absl::StrCat(path, " is a directory; refusing to replace it unless force: true"));
}

}  // namespace

absl::StatusOr<SymlinkSpec> ParseSymlinkSpec(AttributeReader& attrs) {
  SymlinkSpec spec;
  PLUMB_ASSIGN_OR_RETURN(std::string ensure, attrs.Ensure());
  spec.present = ensure != "absent";
  PLUMB_ASSIGN_OR_RETURN(spec.force, attrs.Bool("force", false));
  PLUMB_ASSIGN_OR_RETURN(spec.target, attrs.String("target"));
  if (spec.present && spec.target.empty()) {
    return absl::InvalidArgumentError("target is required for a symlink");
  }
  return spec;
}

absl::StatusOr<CheckResult> SymlinkProvider::Check(const v1::Resource& resource) {
  const std::string& path = resource.name();
  PLUMB_ASSIGN_OR_RETURN(SymlinkSpec spec, SpecOf(resource));
  PLUMB_ASSIGN_OR_RETURN(FileStat stat, fs_->Stat(path));
  CheckResult check;
  if (!spec.present) {
    if (stat.type == FileType::kMissing) return check;
    if (stat.type != FileType::kSymlink) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is not a symlink; refusing to remove it"));
    }
    check.in_sync = false;
    check.message = "symlink present, to be removed";
    return check;
  }
  switch (stat.type) {
    case FileType::kMissing:
      check.message = absl::StrCat("symlink missing, to be created -> ", spec.target);
      break;
    case FileType::kSymlink: {
      PLUMB_ASSIGN_OR_RETURN(std::string current, fs_->ReadLink(path));
      if (current == spec.target) return check;
      check.message = absl::StrCat("target ", current, " -> ", spec.target);
      break;
    }
    case FileType::kDirectory:
      if (!spec.force) return RefuseDirectory(path);
      check.message = "a directory is in the way, to be replaced by the symlink (force)";
      break;
    case FileType::kRegular:
    case FileType::kOther:
      check.message = "a file is in the way, to be replaced by the symlink";
      break;
  }
  check.in_sync = false;
  return check;
}

absl::StatusOr<ChangeResult> SymlinkProvider::Apply(const v1::Resource& resource,
                                                    const CheckResult& check) {
  const std::string& path = resource.name();
  PLUMB_ASSIGN_OR_RETURN(SymlinkSpec spec, SpecOf(resource));
  PLUMB_ASSIGN_OR_RETURN(FileStat stat, fs_->Stat(path));
  if (!spec.present) {
    if (stat.type == FileType::kMissing) return ChangeResult{false, ""};
    if (stat.type != FileType::kSymlink) {
      return absl::FailedPreconditionError(absl::StrCat(path, " is not a symlink"));
    }
    PLUMB_RETURN_IF_ERROR(fs_->Remove(path));
    return ChangeResult{true, "removed"};
  }
  std::string message = absl::StrCat("created -> ", spec.target);
  if (stat.type == FileType::kDirectory) {
    if (!spec.force) return RefuseDirectory(path);
    PLUMB_RETURN_IF_ERROR(fs_->RemoveTree(path));
    message = absl::StrCat("replaced a directory with a symlink -> ", spec.target);
  } else if (stat.type == FileType::kSymlink) {
    PLUMB_ASSIGN_OR_RETURN(std::string current, fs_->ReadLink(path));
    if (current == spec.target) return ChangeResult{false, ""};
    message = absl::StrCat("target ", current, " -> ", spec.target);
  } else if (stat.type != FileType::kMissing) {
    message = absl::StrCat("replaced a file with a symlink -> ", spec.target);
  }
  PLUMB_RETURN_IF_ERROR(fs_->MakeSymlink(path, spec.target));
  return ChangeResult{true, message, stat.type == FileType::kMissing};
}

}  // namespace plumb
