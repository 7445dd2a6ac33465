#include "server/git/git_source.h"

#include <git2.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/status_macros.h"
#include "server/git/git_network.h"
#include "server/git/git_tree.h"

namespace plumb {
namespace {

constexpr char kRemoteName[] = "origin";

// Owns one libgit2 object; `Free` is its git_*_free.
template <typename T, void (*Free)(T*)>
class GitPtr {
 public:
  GitPtr() = default;
  ~GitPtr() {
    if (ptr_ != nullptr) Free(ptr_);
  }
  GitPtr(const GitPtr&) = delete;
  GitPtr& operator=(const GitPtr&) = delete;
  T* get() const { return ptr_; }
  void reset() { out(); }
  // For libgit2's out-parameters; frees any previous object first.
  T** out() {
    if (ptr_ != nullptr) Free(ptr_);
    ptr_ = nullptr;
    return &ptr_;
  }

 private:
  T* ptr_ = nullptr;
};

using RemotePtr = GitPtr<git_remote, git_remote_free>;
using CommitPtr = GitPtr<git_commit, git_commit_free>;
using ReferencePtr = GitPtr<git_reference, git_reference_free>;

// True for URLs libgit2 treats as local paths: no "scheme://" and no scp-style "host:path".
bool IsLocalPath(absl::string_view url) {
  if (absl::StrContains(url, "://")) return false;
  size_t colon = url.find(':');
  return colon == absl::string_view::npos || url.find('/') < colon;
}

bool IsHex(absl::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  });
}

}  // namespace

namespace {

// The "user:password" of "scheme://user:password@host/...", or empty.
absl::string_view UserInfo(absl::string_view url) {
  size_t scheme = url.find("://");
  if (scheme == absl::string_view::npos) return {};
  size_t host = scheme + 3;
  size_t end = url.find_first_of("/?#", host);
  size_t at = url.rfind('@', end == absl::string_view::npos ? url.size() : end);
  if (at == absl::string_view::npos || at < host) return {};
  return url.substr(host, at - host);
}

}  // namespace

std::string RedactUrl(absl::string_view url) {
  absl::string_view userinfo = UserInfo(url);
  if (userinfo.empty()) return std::string(url);
  size_t host = static_cast<size_t>(userinfo.data() - url.data());
  return absl::StrCat(url.substr(0, host), "***", url.substr(host + userinfo.size()));
}

std::string ScrubCredentials(absl::string_view text, absl::string_view url) {
  absl::string_view userinfo = UserInfo(url);
  if (userinfo.empty()) return std::string(text);
  std::string out = absl::StrReplaceAll(text, {{url, RedactUrl(url)}, {userinfo, "***"}});
  // The password (or a bare token given as the user) may also appear on its own.
  size_t colon = userinfo.find(':');
  absl::string_view secret =
      colon == absl::string_view::npos ? userinfo : userinfo.substr(colon + 1);
  if (secret.size() >= 4) out = absl::StrReplaceAll(out, {{secret, "***"}});
  return out;
}

// libgit2 state behind GitSource. Holds one libgit2 init reference for its lifetime.
struct GitSource::Impl {
  Impl(std::string url_in, std::string branch_in, std::string mirror_dir_in)
      : url(std::move(url_in)), shown_url(RedactUrl(url)), branch(std::move(branch_in)),
        mirror_dir(std::move(mirror_dir_in)) {
    git_libgit2_init();  // refcounted: balanced in the destructor
  }
  ~Impl() {
    remote.reset();  // before the repository it belongs to
    if (repo != nullptr) git_repository_free(repo);
    git_libgit2_shutdown();
  }

  absl::Status OpenMirror() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::StatusOr<git_remote*> Remote(RemotePtr& remote) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  absl::Status CheckBranchAdvertised(git_remote* remote) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // git_remote_fetch of `specs` (no tags, no FETCH_HEAD); drops `remote` after a failure.
  absl::Status FetchSpecs(git_remote* remote, std::vector<std::string> specs)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);
  // The commit `oid` names; `what` says where it came from, for the error.
  absl::StatusOr<CommitInfo> Describe(const git_oid& oid, absl::string_view what)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu);

  const std::string url;
  const std::string shown_url;  // `url` without credentials: the only form in messages
  const std::string branch;
  const std::string mirror_dir;
  absl::Mutex mu;
  git_repository* repo ABSL_GUARDED_BY(mu) = nullptr;
  // Kept across fetches: Debian's libgit2 1.5 leaks ~80 KB of regex match data on every
  // git_remote_lookup, which grew an idle server polling every second by ~150 KB/s
  // (docs/benchmarks.md). Dropped after a failed fetch, so a broken one is never reused.
  RemotePtr remote ABSL_GUARDED_BY(mu);
};

absl::Status GitSource::Impl::OpenMirror() {
  int rc = git_repository_open_bare(&repo, mirror_dir.c_str());
  if (rc == GIT_ENOTFOUND) {
    // git_repository_init creates missing parent directories too.
    rc = git_repository_init(&repo, mirror_dir.c_str(), /*is_bare=*/1);
    if (rc < 0) return GitErrorStatus(rc, absl::StrCat("creating git mirror ", mirror_dir));
    return absl::OkStatus();
  }
  if (rc < 0) return GitErrorStatus(rc, absl::StrCat("opening git mirror ", mirror_dir));
  return absl::OkStatus();
}

// Looks up (or creates) remote "origin", pointing it at `url` if the configuration changed.
absl::StatusOr<git_remote*> GitSource::Impl::Remote(RemotePtr& remote) {
  if (remote.get() != nullptr) return remote.get();  // `url` never changes
  int rc = git_remote_lookup(remote.out(), repo, kRemoteName);
  if (rc == GIT_ENOTFOUND) {
    std::string refspec = absl::StrCat("+refs/heads/", branch, ":refs/remotes/origin/", branch);
    rc = git_remote_create_with_fetchspec(remote.out(), repo, kRemoteName, url.c_str(),
                                          refspec.c_str());
  } else if (rc == 0 && (git_remote_url(remote.get()) == nullptr ||
                         url != git_remote_url(remote.get()))) {
    rc = git_remote_set_url(repo, kRemoteName, url.c_str());
    if (rc == 0) rc = git_remote_lookup(remote.out(), repo, kRemoteName);
  }
  if (rc < 0) {
    remote.reset();
    return GitErrorStatus(rc, absl::StrCat("configuring remote ", shown_url));
  }
  return remote.get();
}

// A fetch of a refspec that matches nothing succeeds, and an old tracking ref would survive
// the branch's deletion upstream; the remote's advertisement is the truth.
absl::Status GitSource::Impl::CheckBranchAdvertised(git_remote* remote) {
  const git_remote_head** heads = nullptr;
  size_t count = 0;
  int rc = git_remote_ls(&heads, &count, remote);
  if (rc < 0) return GitErrorStatus(rc, absl::StrCat("listing refs of ", shown_url));
  std::string wanted = absl::StrCat("refs/heads/", branch);
  for (size_t i = 0; i < count; ++i) {
    if (wanted == heads[i]->name) return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat("branch ", branch, " not found in ", shown_url));
}

absl::StatusOr<std::unique_ptr<GitSource>> GitSource::Open(const std::string& url,
                                                           const std::string& branch,
                                                           const std::string& mirror_dir,
                                                           absl::Duration network_timeout) {
  auto impl = std::make_unique<Impl>(url, branch, mirror_dir);  // libgit2 is initialised now
  if (url.empty()) return absl::InvalidArgumentError("repo url is empty");
  PLUMB_RETURN_IF_ERROR(InstallGitNetworkTimeout(network_timeout));
  // libgit2's safe.directory check refuses a local repository another user owns, with an
  // error about a missing config value. It guards git's hooks and configured commands; libgit2
  // runs neither, and the server only reads the source. So a root-owned /srv/plumb.git works
  // for the packaged server's `plumb` user as is.
  git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
  int valid = 0;
  std::string ref = absl::StrCat("refs/heads/", branch);
  if (branch.empty() || git_reference_name_is_valid(&valid, ref.c_str()) < 0 || !valid) {
    return absl::InvalidArgumentError(absl::StrCat("invalid branch name \"", branch, "\""));
  }
  {
    absl::MutexLock lock(&impl->mu);
    PLUMB_RETURN_IF_ERROR(impl->OpenMirror());
  }
  return std::unique_ptr<GitSource>(new GitSource(std::move(impl)));
}

GitSource::GitSource(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
GitSource::~GitSource() = default;

absl::StatusOr<CommitInfo> GitSource::Fetch() {
  absl::StatusOr<CommitInfo> head = FetchHead();
  if (head.ok()) return head;
  // libgit2's own text may quote the URL it was given, credentials and all.
  return absl::Status(head.status().code(),
                      ScrubCredentials(head.status().message(), impl_->url));
}

absl::StatusOr<CommitInfo> GitSource::FetchHead() {
  Impl& impl = *impl_;
  absl::MutexLock lock(&impl.mu);
  git_remote* remote = nullptr;
  PLUMB_ASSIGN_OR_RETURN(remote, impl.Remote(impl.remote));
  PLUMB_RETURN_IF_ERROR(impl.FetchSpecs(
      remote, {absl::StrCat("+refs/heads/", impl.branch, ":refs/remotes/origin/", impl.branch)}));
  PLUMB_RETURN_IF_ERROR(impl.CheckBranchAdvertised(remote));

  std::string tracking = absl::StrCat("refs/remotes/origin/", impl.branch);
  git_oid oid;
  int rc = git_reference_name_to_id(&oid, impl.repo, tracking.c_str());
  if (rc == GIT_ENOTFOUND) {
    return absl::NotFoundError(
        absl::StrCat("branch ", impl.branch, " not found in ", impl.shown_url));
  }
  if (rc < 0) return GitErrorStatus(rc, absl::StrCat("resolving ", tracking));
  return impl.Describe(oid, absl::StrCat("head of ", impl.branch));
}

absl::Status GitSource::Impl::FetchSpecs(git_remote* remote, std::vector<std::string> specs) {
  std::vector<char*> pointers;
  for (std::string& spec : specs) pointers.push_back(spec.data());
  git_strarray refspecs = {pointers.data(), pointers.size()};
  git_fetch_options options = GIT_FETCH_OPTIONS_INIT;
  options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
  options.update_fetchhead = 0;
  int rc = git_remote_fetch(remote, &refspecs, &options, "plumb fetch");
  if (rc < 0) this->remote.reset();
  struct stat st;
  if (rc < 0 && IsLocalPath(url) && stat(url.c_str(), &st) != 0) {
    // libgit2 reports a missing local path as "unsupported URL protocol", which misleads.
    return absl::UnavailableError(
        absl::StrCat("fetching ", shown_url, ": no such local repository"));
  }
  if (rc < 0) {
    return GitErrorStatus(rc, absl::StrCat("fetching ", shown_url),
                          absl::StatusCode::kUnavailable);
  }
  return absl::OkStatus();
}

absl::StatusOr<CommitInfo> GitSource::Impl::Describe(const git_oid& oid,
                                                     absl::string_view what) {
  CommitPtr commit;
  int rc = git_commit_lookup(commit.out(), repo, &oid);
  if (rc < 0) return GitErrorStatus(rc, absl::StrCat(what, " is not a commit"));
  CommitInfo info;
  info.sha = git_oid_tostr_s(&oid);
  const char* summary = git_commit_summary(commit.get());
  info.summary = summary != nullptr ? summary : "";
  info.time_unix = static_cast<int64_t>(git_commit_time(commit.get()));
  return info;
}

bool IsPlainRefName(absl::string_view ref) {
  if (ref.empty() || ref.size() > 200) return false;
  if (ref.front() == '-' || ref.front() == '/' || ref.front() == '.' || ref.back() == '/' ||
      ref.back() == '.') {
    return false;
  }
  for (absl::string_view bad : {"..", "//", "/.", "@{"}) {
    if (absl::StrContains(ref, bad)) return false;
  }
  if (absl::StartsWith(ref, "refs/") || absl::EndsWith(ref, ".lock")) return false;
  return std::all_of(ref.begin(), ref.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '/' || c == '-' || c == '+';
  });
}

absl::StatusOr<CommitInfo> GitSource::FetchRef(const std::string& ref) {
  if (!IsPlainRefName(ref)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", ref, "\" is not a branch, tag or commit id (plain names only: letters, digits, "
        "'.', '_', '-', '+', '/')"));
  }
  absl::StatusOr<CommitInfo> commit = FetchNamedRef(ref);
  if (commit.ok()) return commit;
  return absl::Status(commit.status().code(),
                      ScrubCredentials(commit.status().message(), impl_->url));
}

absl::StatusOr<CommitInfo> GitSource::FetchNamedRef(const std::string& ref) {
  Impl& impl = *impl_;
  absl::MutexLock lock(&impl.mu);
  // Planned refs live apart from the followed branch's tracking ref, so planning never moves
  // what the poller serves.
  const std::string local = "refs/plumb/refs/";
  bool hex = ref.size() >= 4 && ref.size() <= GIT_OID_HEXSZ && IsHex(ref);
  git_oid oid;
  auto lookup_commit = [&]() -> bool {
    CommitPtr commit;
    if (git_oid_fromstrn(&oid, ref.data(), ref.size()) < 0) return false;
    if (git_commit_lookup_prefix(commit.out(), impl.repo, &oid, ref.size()) < 0) return false;
    oid = *git_commit_id(commit.get());
    return true;
  };
  if (hex && lookup_commit()) return impl.Describe(oid, ref);
  git_remote* remote = nullptr;
  PLUMB_ASSIGN_OR_RETURN(remote, impl.Remote(impl.remote));
  std::vector<std::string> specs = {
      absl::StrCat("+refs/heads/", ref, ":", local, "heads/", ref),
      absl::StrCat("+refs/tags/", ref, ":", local, "tags/", ref)};
  if (hex) specs.push_back(absl::StrCat("+refs/heads/*:", local, "heads/*"));
  PLUMB_RETURN_IF_ERROR(impl.FetchSpecs(remote, specs));
  // As in CheckBranchAdvertised: a stale local copy of a deleted ref must not answer.
  const git_remote_head** heads = nullptr;
  size_t count = 0;
  int rc = git_remote_ls(&heads, &count, remote);
  if (rc < 0) return GitErrorStatus(rc, absl::StrCat("listing refs of ", impl.shown_url));
  for (absl::string_view kind : {"heads/", "tags/"}) {
    std::string remote_name = absl::StrCat("refs/", kind, ref);
    bool advertised = false;
    for (size_t i = 0; i < count; ++i) advertised = advertised || remote_name == heads[i]->name;
    if (!advertised) continue;
    GitPtr<git_object, git_object_free> peeled;
    std::string spec = absl::StrCat(local, kind, ref, "^{commit}");
    rc = git_revparse_single(peeled.out(), impl.repo, spec.c_str());
    if (rc < 0) return GitErrorStatus(rc, absl::StrCat("resolving ", remote_name));
    return impl.Describe(*git_object_id(peeled.get()), remote_name);
  }
  if (hex && lookup_commit()) return impl.Describe(oid, ref);
  return absl::NotFoundError(absl::StrCat("no branch, tag or commit \"", ref, "\" in ",
                                          impl.shown_url));
}

absl::StatusOr<std::unique_ptr<RepoTree>> GitSource::TreeAt(const std::string& sha) {
  if (sha.size() < 4 || sha.size() > GIT_OID_HEXSZ || !IsHex(sha)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", sha, "\" is not a commit id"));
  }
  Impl& impl = *impl_;
  absl::MutexLock lock(&impl.mu);
  git_oid oid;
  int rc = git_oid_fromstrn(&oid, sha.data(), sha.size());
  if (rc < 0) return GitErrorStatus(rc, absl::StrCat("commit id ", sha));
  CommitPtr commit;
  rc = git_commit_lookup_prefix(commit.out(), impl.repo, &oid, sha.size());
  if (rc < 0) return GitErrorStatus(rc, absl::StrCat("commit ", sha, " in ", impl.mirror_dir));
  std::unique_ptr<GitTree> tree;
  PLUMB_ASSIGN_OR_RETURN(tree, GitTree::Read(impl.repo, *git_commit_id(commit.get())));
  return std::unique_ptr<RepoTree>(std::move(tree));
}

}  // namespace plumb
