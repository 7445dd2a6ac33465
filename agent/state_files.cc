#include "agent/state_files.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/secure_files.h"

namespace plumb {

absl::Status WriteStateFile(const std::string& path, const std::string& content) {
  return WriteFileAtomically(path, content, 0600);
}

absl::StatusOr<std::string> ReadStateFile(const std::string& path) {
  return ReadFileUpTo(path, std::numeric_limits<size_t>::max());
}

absl::Status MakeStateDirs(const std::string& path) { return MakeDirectories(path, 0700); }

absl::StatusOr<std::vector<std::string>> ListStateFiles(const std::string& dir,
                                                        const std::string& suffix) {
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) {
    return absl::InternalError(absl::StrCat("cannot list ", dir, ": ", strerror(errno)));
  }
  std::vector<std::string> names;
  while (struct dirent* e = readdir(d)) {
    std::string name = e->d_name;
    if (absl::EndsWith(name, suffix) && !absl::StrContains(name, ".tmp.")) names.push_back(name);
  }
  closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace plumb
