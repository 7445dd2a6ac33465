#pragma once

// Follows one branch of a desired-state repository with libgit2: fetches into a bare mirror
// under state_dir and hands out read-only trees of commits (no working checkout).

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/compiler/repo_tree.h"

namespace plumb {

// "https://user:token@host/x" -> "https://***@host/x"; other URLs and paths unchanged.
std::string RedactUrl(absl::string_view url);
// `text` with `url`'s credentials (user:password, or the password alone) masked as "***".
std::string ScrubCredentials(absl::string_view text, absl::string_view url);

// Whether `ref` is a plain branch or tag name, or a commit id, that FetchRef accepts.
bool IsPlainRefName(absl::string_view ref);

// A fetched commit.
struct CommitInfo {
  std::string sha;      // full 40-hex id
  std::string summary;  // first line of the message
  int64_t time_unix = 0;
};

// Thread-safe (libgit2 calls are serialized by the source's mutex; trees it returns are
// independent snapshots safe to read from any thread).
class GitSource {
 public:
  // `url`: anything libgit2 fetches (path, file://, git://, https, ssh). `mirror_dir` is created
  // as a bare repository if missing. Fails if libgit2 cannot initialise the mirror.
  // `network_timeout` bounds connecting and every wait on the remote (git_network.h); it is
  // process-wide, the latest Open's value wins.
  static absl::StatusOr<std::unique_ptr<GitSource>> Open(
      const std::string& url, const std::string& branch, const std::string& mirror_dir,
      absl::Duration network_timeout = absl::Seconds(60));
  ~GitSource();

  // Fetches the branch from the remote and returns its head commit. Errors name the URL (with
  // credentials masked) and libgit2's message (Unavailable for network/remote errors, NotFound
  // for a missing branch).
  absl::StatusOr<CommitInfo> Fetch();

  // Fetches `ref` (a branch or tag name of the remote, or a commit id: 4 to 40 hex digits) into
  // the mirror, under refs/plumb/refs/, and returns the commit it names; the followed branch
  // and the serving revision are untouched. A commit id already in the mirror is not fetched.
  // InvalidArgument for anything but a plain name (no "..", "~", "^", ":", "@{", spaces,
  // leading "-" or "/", "refs/" prefix), NotFound if the remote has no such branch or tag (or
  // commit), Unavailable for network errors; bounded by the network timeout like Fetch.
  absl::StatusOr<CommitInfo> FetchRef(const std::string& ref);

  // The tree of `sha` (must have been fetched). Reads blobs lazily from the mirror, or
  // eagerly — implementation's choice — but the returned tree must stay valid after further
  // fetches and be safe for concurrent reads.
  absl::StatusOr<std::unique_ptr<RepoTree>> TreeAt(const std::string& sha);

 private:
  struct Impl;
  absl::StatusOr<CommitInfo> FetchHead();
  absl::StatusOr<CommitInfo> FetchNamedRef(const std::string& ref);
  explicit GitSource(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace plumb
