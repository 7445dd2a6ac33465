#include "agent/providers/file_provider.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/diff.h"
#include "agent/providers/resource_attributes.h"
#include "common/catalog.h"
#include "common/digest.h"
#include "common/status_macros.h"

namespace plumb {
namespace {

// Larger files are compared but not diffed; the limit for reading one at all is far above.
constexpr size_t kMaxDiffInput = 1024 * 1024;
constexpr size_t kMaxFileSize = size_t{1} << 31;

std::string ShortDigest(const std::string& digest) { return digest.substr(0, 12); }

absl::StatusOr<bool> WantPresent(const v1::Resource& resource) {
  AttributeReader attrs(resource);
  PLUMB_ASSIGN_OR_RETURN(FileSpec spec, ParseFileSpec(attrs));
  return spec.present;
}

// The resource's metadata; a sensitive file without `mode` is 0600, created or not, so that
// neither a new secret nor one rotated into a world-readable file is readable by others.
absl::StatusOr<DesiredMetadata> FileMetadataOf(const v1::Resource& resource, Filesystem* fs) {
  PLUMB_ASSIGN_OR_RETURN(DesiredMetadata desired, DesiredMetadataOf(resource, fs));
  if (resource.sensitive() && !desired.metadata.mode.has_value()) desired.metadata.mode = 0600;
  return desired;
}

}  // namespace

absl::StatusOr<FileSpec> ParseFileSpec(AttributeReader& attrs) {
  FileSpec spec;
  PLUMB_ASSIGN_OR_RETURN(std::string ensure, attrs.Ensure());
  spec.present = ensure != "absent";
  PLUMB_ASSIGN_OR_RETURN(spec.metadata, ParseMetadataSpec(attrs));
  PLUMB_ASSIGN_OR_RETURN(spec.sensitive, attrs.Bool("sensitive", false));
  PLUMB_ASSIGN_OR_RETURN(spec.content_digest, attrs.ContentDigest());
  return spec;
}

absl::StatusOr<std::string> FileProvider::FetchContent(const v1::Resource& resource) {
  const std::string& digest = resource.content_digest();
  absl::StatusOr<std::string> blob = blobs_->Get(digest);
  if (!blob.ok()) {
    return absl::Status(blob.status().code(),
                        absl::StrCat("content sha256:", ShortDigest(digest),
                                     " is not available: ", blob.status().message()));
  }
  if (!blobs_->ContentVerified() && Sha256Hex(*blob) != digest) {
    return absl::DataLossError(
        absl::StrCat("content for sha256:", ShortDigest(digest), " does not match its digest"));
  }
  return std::move(*blob);
}

absl::StatusOr<CheckResult> FileProvider::CheckAbsent(const v1::Resource& resource,
                                                      const FileStat& stat) {
  CheckResult check;
  if (stat.type == FileType::kMissing) return check;
  if (stat.type == FileType::kDirectory) {
    return absl::FailedPreconditionError(
        absl::StrCat(resource.name(), " is a directory; a file resource does not remove it"));
  }
  check.in_sync = false;
  check.message = stat.type == FileType::kSymlink ? "symlink present, to be removed"
                                                  : "file present, to be removed";
  if (stat.type == FileType::kRegular && !resource.sensitive() && stat.size <= kMaxDiffInput) {
    absl::StatusOr<std::string> old = fs_->ReadFile(resource.name(), kMaxDiffInput);
    if (old.ok()) check.diff = UnifiedDiff(*old, "", resource.name(), "/dev/null");
  }
  return check;
}

absl::StatusOr<CheckResult> FileProvider::Check(const v1::Resource& resource) {
  const std::string& path = resource.name();
  PLUMB_ASSIGN_OR_RETURN(bool present, WantPresent(resource));
  PLUMB_ASSIGN_OR_RETURN(FileStat stat, fs_->Stat(path));
  if (!present) return CheckAbsent(resource, stat);

  PLUMB_ASSIGN_OR_RETURN(DesiredMetadata desired, FileMetadataOf(resource, fs_));
  const bool manage_content = !resource.content_digest().empty();
  CheckResult check;
  if (manage_content) {
    PLUMB_ASSIGN_OR_RETURN(check.content, FetchContent(resource));
  }
  std::vector<std::string> changes;
  std::string old_content;
  switch (stat.type) {
    case FileType::kMissing:
      changes.push_back(
          absl::StrCat("file missing, to be created (", check.content.size(), " bytes)"));
      break;
    case FileType::kSymlink:
      changes.push_back("a symlink is in the way, to be replaced by the file");
      break;
    case FileType::kDirectory:
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is a directory; refusing to replace it with a file"));
    case FileType::kOther:
      return absl::FailedPreconditionError(absl::StrCat(path, " is not a regular file"));
    case FileType::kRegular: {
      if (manage_content) {
        bool differs = stat.size != check.content.size();
        if (!differs || (!resource.sensitive() && stat.size <= kMaxDiffInput)) {
          PLUMB_ASSIGN_OR_RETURN(old_content, fs_->ReadFile(path, kMaxFileSize));
          differs = old_content != check.content;
        }
        if (differs) {
          changes.push_back(resource.sensitive()
                                ? std::string("content differs")
                                : absl::StrCat("content differs (sha256 ",
                                               ShortDigest(Sha256Hex(old_content)), " -> ",
                                               ShortDigest(resource.content_digest()), ")"));
        }
      }
      std::vector<std::string> meta = MetadataChanges(stat, desired.metadata);
      changes.insert(changes.end(), meta.begin(), meta.end());
      break;
    }
  }
  changes.insert(changes.end(), desired.unresolved.begin(), desired.unresolved.end());
  if (changes.empty()) return check;
  check.in_sync = false;
  check.message = absl::StrJoin(changes, "; ");
  bool content_changes =
      manage_content && (stat.type != FileType::kRegular || old_content != check.content);
  if (content_changes && !resource.sensitive() && check.content.size() <= kMaxDiffInput &&
      stat.size <= kMaxDiffInput) {
    check.diff = UnifiedDiff(old_content, check.content,
                             stat.type == FileType::kRegular ? path : "/dev/null", path);
  }
  return check;
}

absl::StatusOr<ChangeResult> FileProvider::Apply(const v1::Resource& resource,
                                                 const CheckResult& check) {
  const std::string& path = resource.name();
  PLUMB_ASSIGN_OR_RETURN(bool present, WantPresent(resource));
  ChangeResult result;
  if (!present) {
    PLUMB_RETURN_IF_ERROR(fs_->Remove(path));
    result.message = "removed";
    return result;
  }
  PLUMB_ASSIGN_OR_RETURN(DesiredMetadata desired, FileMetadataOf(resource, fs_));
  if (!desired.unresolved.empty()) {
    return absl::FailedPreconditionError(absl::StrJoin(desired.unresolved, "; "));
  }
  // The host may have moved since Check: decide again what to do, with the fetched content.
  PLUMB_ASSIGN_OR_RETURN(FileStat stat, fs_->Stat(path));
  const bool manage_content = !resource.content_digest().empty();
  bool write = stat.type != FileType::kRegular;
  if (!write && manage_content) {
    if (stat.size != check.content.size()) {
      write = true;
    } else {
      PLUMB_ASSIGN_OR_RETURN(std::string old_content, fs_->ReadFile(path, kMaxFileSize));
      write = old_content != check.content;
    }
  }
  if (write) {
    std::string content = manage_content ? check.content : std::string();
    PLUMB_RETURN_IF_ERROR(fs_->WriteFile(path, content, desired.metadata));
    result.created = stat.type == FileType::kMissing;
    result.message = stat.type == FileType::kMissing
                         ? absl::StrCat("created (", content.size(), " bytes)")
                         : absl::StrCat("content replaced (", content.size(), " bytes)");
    std::vector<std::string> meta = MetadataChanges(stat, desired.metadata);
    if (stat.type == FileType::kRegular && !meta.empty()) {
      absl::StrAppend(&result.message, "; ", absl::StrJoin(meta, "; "));
    }
    return result;
  }
  std::vector<std::string> meta = MetadataChanges(stat, desired.metadata);
  if (meta.empty()) return ChangeResult{false, ""};
  PLUMB_RETURN_IF_ERROR(fs_->SetMetadata(path, desired.metadata));
  result.message = absl::StrJoin(meta, "; ");
  return result;
}

}  // namespace plumb
