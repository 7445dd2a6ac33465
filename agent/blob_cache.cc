#include "agent/blob_cache.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "agent/state_files.h"
#include "common/digest.h"
#include "common/status_macros.h"

namespace plumb {

absl::StatusOr<std::unique_ptr<BlobCache>> BlobCache::Open(const std::string& dir) {
  PLUMB_RETURN_IF_ERROR(MakeStateDirs(dir));
  return std::unique_ptr<BlobCache>(new BlobCache(dir));
}

absl::StatusOr<std::string> BlobCache::Get(const std::string& digest) {
  if (!IsSha256Hex(digest)) return absl::InvalidArgumentError(absl::StrCat("bad digest ", digest));
  return ReadStateFile(PathFor(digest));
}

bool BlobCache::Has(const std::string& digest) const {
  struct stat st;
  return IsSha256Hex(digest) && stat(PathFor(digest).c_str(), &st) == 0;
}

absl::Status BlobCache::Put(const std::string& digest, const std::string& content) {
  if (!IsSha256Hex(digest)) return absl::InvalidArgumentError(absl::StrCat("bad digest ", digest));
  if (Sha256Hex(content) != digest) {
    return absl::DataLossError(absl::StrCat("blob content does not match digest ", digest));
  }
  return WriteStateFile(PathFor(digest), content);
}

absl::StatusOr<int> BlobCache::Retain(const std::set<std::string>& keep) {
  DIR* dir = opendir(dir_.c_str());
  if (dir == nullptr) {
    return absl::UnavailableError(absl::StrCat("cannot list ", dir_, ": ", strerror(errno)));
  }
  // Our own temp files may be a Put in progress; other processes' are leftovers of a crash.
  const std::string own_temp = absl::StrCat(".tmp.", getpid());
  std::vector<std::string> doomed;
  while (struct dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == ".." || keep.count(name) > 0) continue;
    if (absl::EndsWith(name, own_temp)) continue;
    if (!IsSha256Hex(name) && !absl::StrContains(name, ".tmp.")) continue;  // not ours
    doomed.push_back(std::move(name));
  }
  closedir(dir);
  absl::Status first_error;
  int removed = 0;
  for (const std::string& name : doomed) {
    if (unlink(PathFor(name).c_str()) == 0) {
      ++removed;
    } else if (errno != ENOENT && first_error.ok()) {
      first_error = absl::UnavailableError(
          absl::StrCat("cannot delete ", PathFor(name), ": ", strerror(errno)));
    }
  }
  PLUMB_RETURN_IF_ERROR(first_error);
  return removed;
}

}  // namespace plumb
