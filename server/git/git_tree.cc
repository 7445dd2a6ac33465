#include "server/git/git_tree.h"

#include <git2.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace plumb {

absl::Status GitErrorStatus(int error, absl::string_view context,
                            std::optional<absl::StatusCode> code) {
  const git_error* last = git_error_last();
  std::string message = last != nullptr && last->message != nullptr ? last->message
                                                                    : "unknown libgit2 error";
  int klass = last != nullptr ? last->klass : GIT_ERROR_NONE;
  if (!code.has_value()) {
    switch (error) {
      case GIT_ENOTFOUND: code = absl::StatusCode::kNotFound; break;
      case GIT_EAMBIGUOUS:
      case GIT_EINVALIDSPEC: code = absl::StatusCode::kInvalidArgument; break;
      case GIT_EAUTH:
      case GIT_ECERTIFICATE: code = absl::StatusCode::kUnavailable; break;
      default:
        bool network = klass == GIT_ERROR_NET || klass == GIT_ERROR_SSL ||
                       klass == GIT_ERROR_SSH || klass == GIT_ERROR_HTTP;
        code = network ? absl::StatusCode::kUnavailable : absl::StatusCode::kInternal;
    }
  }
  return absl::Status(*code, absl::StrCat(context, ": ", message));
}

// Collects a tree walk's entries into a GitTree (the walk callback's payload).
struct GitTreeBuilder {
  git_repository* repo;
  GitTree* tree;
  size_t bytes = 0;
  absl::Status status;

  static int Visit(const char* root, const git_tree_entry* entry, void* payload) {
    return static_cast<GitTreeBuilder*>(payload)->Add(root, entry);
  }

  // `root` is the entry's directory with a trailing '/', or "" at the top.
  int Add(absl::string_view root, const git_tree_entry* entry) {
    std::string dir(root.substr(0, root.empty() ? 0 : root.size() - 1));
    std::string name = git_tree_entry_name(entry);
    std::string path = root.empty() ? name : absl::StrCat(root, name);
    tree->dirs_[dir].push_back(name);
    git_filemode_t mode = git_tree_entry_filemode(entry);
    if (mode == GIT_FILEMODE_TREE) {
      tree->dirs_[path];  // exists even if it turns out empty
      return 0;
    }
    if (mode != GIT_FILEMODE_BLOB && mode != GIT_FILEMODE_BLOB_EXECUTABLE) {
      return 0;  // symlink or submodule: listed, not readable
    }
    git_blob* blob = nullptr;
    int rc = git_blob_lookup(&blob, repo, git_tree_entry_id(entry));
    if (rc < 0) {
      status = GitErrorStatus(rc, absl::StrCat("reading ", path));
      return -1;
    }
    size_t size = static_cast<size_t>(git_blob_rawsize(blob));
    bytes += size;
    if (bytes > GitTree::kMaxBytes) {
      git_blob_free(blob);
      status = absl::ResourceExhaustedError(absl::StrCat(
          "repository tree is larger than ", GitTree::kMaxBytes >> 20, " MiB (at ", path, ")"));
      return -1;
    }
    tree->files_[path].assign(static_cast<const char*>(git_blob_rawcontent(blob)), size);
    git_blob_free(blob);
    return 0;
  }
};

absl::StatusOr<std::unique_ptr<GitTree>> GitTree::Read(git_repository* repo,
                                                       const git_oid& commit_id) {
  char hex[GIT_OID_HEXSZ + 1];
  git_oid_tostr(hex, sizeof(hex), &commit_id);
  git_commit* commit = nullptr;
  int rc = git_commit_lookup(&commit, repo, &commit_id);
  if (rc < 0) return GitErrorStatus(rc, absl::StrCat("commit ", hex));
  git_tree* root = nullptr;
  rc = git_commit_tree(&root, commit);
  git_commit_free(commit);
  if (rc < 0) return GitErrorStatus(rc, absl::StrCat("tree of commit ", hex));

  std::unique_ptr<GitTree> tree(new GitTree());
  tree->dirs_[""];
  GitTreeBuilder builder{repo, tree.get(), 0, absl::OkStatus()};
  rc = git_tree_walk(root, GIT_TREEWALK_PRE, &GitTreeBuilder::Visit, &builder);
  git_tree_free(root);
  if (!builder.status.ok()) return builder.status;
  if (rc < 0) return GitErrorStatus(rc, absl::StrCat("walking tree of commit ", hex));
  // Git orders a directory "a" as "a/", which differs from plain sorting ("a-b" vs "a").
  for (auto& [dir, names] : tree->dirs_) std::sort(names.begin(), names.end());
  return tree;
}

namespace {

// Canonical form of a tree path: no leading "./", empty or "." parts, or trailing '/'.
absl::StatusOr<std::string> Normalize(absl::string_view path) {
  if (!path.empty() && path[0] == '/') {
    return absl::InvalidArgumentError(absl::StrCat(path, ": path escapes the repository"));
  }
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return absl::InvalidArgumentError(absl::StrCat(path, ": path escapes the repository"));
    }
    parts.push_back(part);
  }
  return absl::StrJoin(parts, "/");
}

}  // namespace

absl::StatusOr<std::string> GitTree::ReadFile(absl::string_view path) const {
  std::string key;
  PLUMB_ASSIGN_OR_RETURN(key, Normalize(path));
  auto it = files_.find(key);
  if (it == files_.end()) return absl::NotFoundError(absl::StrCat(path, ": no such file"));
  return it->second;
}

absl::StatusOr<std::vector<std::string>> GitTree::ListDir(absl::string_view path) const {
  std::string key;
  PLUMB_ASSIGN_OR_RETURN(key, Normalize(path));
  auto it = dirs_.find(key);
  if (it == dirs_.end()) return absl::NotFoundError(absl::StrCat(path, ": no such directory"));
  return it->second;
}

}  // namespace plumb
