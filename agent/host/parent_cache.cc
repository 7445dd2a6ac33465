#include "agent/host/parent_cache.h"

#include <fcntl.h>

#include "common/status_macros.h"

namespace plumb {
namespace {

// A final component ResolveUnderRoot would return unchanged.
bool PlainName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('\0') == std::string::npos;
}

}  // namespace

absl::StatusOr<ResolvedPath> ParentCache::Resolve(const std::string& root,
                                                  const std::string& path, bool create_parents) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ResolveUnderRoot(root, path, create_parents);
  std::string parent = path.substr(0, slash);
  std::string name = path.substr(slash + 1);
  if (!PlainName(name)) return ResolveUnderRoot(root, path, create_parents);
  retired_.clear();  // the previous operation, which may have used one, is over
  if (auto it = parents_.find(parent); it != parents_.end()) {
    ResolvedPath lent;
    lent.name = std::move(name);
    lent.borrowed = it->second.get();
    return lent;
  }
  // Only a path ResolveUnderRoot accepted (absolute, no "..") puts its parent in the cache.
  PLUMB_ASSIGN_OR_RETURN(ResolvedPath resolved, ResolveUnderRoot(root, path, create_parents));
  if (parents_.size() >= kMaxEntries) parents_.clear();
  resolved.borrowed = resolved.parent.get();
  parents_.emplace(std::move(parent), std::move(resolved.parent));
  return resolved;
}

void ParentCache::Clear() {
  for (auto& [path, fd] : parents_) retired_.push_back(std::move(fd));
  parents_.clear();
}

}  // namespace plumb
