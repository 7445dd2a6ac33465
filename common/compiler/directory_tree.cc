#include "common/compiler/directory_tree.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace plumb {
namespace {

bool Escapes(absl::string_view path) {
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") return true;
  }
  return !path.empty() && path[0] == '/';
}

}  // namespace

absl::StatusOr<std::string> DirectoryTree::ReadFile(absl::string_view path) const {
  if (Escapes(path)) return absl::InvalidArgumentError(absl::StrCat(path, ": path escapes the repository"));
  std::string full = absl::StrCat(root_, "/", path);
  struct stat st;
  if (stat(full.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  }
  std::ifstream in(full, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::StatusOr<std::vector<std::string>> DirectoryTree::ListDir(absl::string_view path) const {
  if (Escapes(path)) return absl::InvalidArgumentError(absl::StrCat(path, ": path escapes the repository"));
  std::string full = path.empty() ? root_ : absl::StrCat(root_, "/", path);
  DIR* dir = opendir(full.c_str());
  if (dir == nullptr) return absl::NotFoundError(absl::StrCat(path, ": no such directory"));
  std::vector<std::string> names;
  while (struct dirent* e = readdir(dir)) {
    std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    names.push_back(name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace plumb
