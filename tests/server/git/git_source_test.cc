#include "server/git/git_source.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::plumb::testing::RunShell;
using ::plumb::testing::ShellQuote;
using ::plumb::testing::TempDir;
using ::plumb::testing::WriteFileOrDie;

// A bare "origin" repository and a work clone that commits and pushes to it, via the git CLI.
class GitSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    origin_ = dir_.Sub("origin.git");
    work_ = dir_.Sub("work");
    mirror_ = dir_.Sub("state/mirror.git");
    ASSERT_EQ(Sh("git init -q --bare -b main " + ShellQuote(origin_)), 0);
    ASSERT_EQ(Sh("git init -q -b main " + ShellQuote(work_)), 0);
    ASSERT_EQ(Git("remote add origin " + ShellQuote(origin_)), 0);
  }

  int Sh(const std::string& command) {
    std::string output;
    int rc = RunShell(command, &output);
    if (rc != 0) ADD_FAILURE() << command << " -> " << rc << "\n" << output;
    return rc;
  }
  int Git(const std::string& args) {
    return Sh("git -C " + ShellQuote(work_) +
              " -c user.name=Plumb -c user.email=plumb@example.org -c commit.gpgsign=false " +
              args);
  }
  // Commits everything in the work tree and pushes it; returns the new head sha.
  std::string CommitAndPush(const std::string& message) {
    EXPECT_EQ(Git("add -A"), 0);
    EXPECT_EQ(Git("commit -q -m " + ShellQuote(message)), 0);
    EXPECT_EQ(Git("push -q origin main"), 0);
    std::string sha;
    RunShell("git -C " + ShellQuote(origin_) + " rev-parse refs/heads/main", &sha);
    return std::string(absl::StripAsciiWhitespace(sha));
  }
  std::string FirstCommit() {
    WriteFileOrDie(work_ + "/plumb.yaml", "version: 1\n");
    WriteFileOrDie(work_ + "/modules/x/module.yaml", "resources: []\n");
    WriteFileOrDie(work_ + "/modules/x-y/module.yaml", "vars: {}\n");
    return CommitAndPush("first commit\n\nbody");
  }
  std::unique_ptr<GitSource> OpenOrDie(const std::string& url, const std::string& branch = "main") {
    auto source = GitSource::Open(url, branch, mirror_);
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() ? std::move(*source) : nullptr;
  }

  TempDir dir_;
  std::string origin_, work_, mirror_;
};

TEST_F(GitSourceTest, FetchReturnsHeadAndTreeReadsFiles) {
  std::string sha = FirstCommit();
  ASSERT_EQ(sha.size(), 40u);
  auto source = OpenOrDie(origin_);
  ASSERT_NE(source, nullptr);
  auto head = source->Fetch();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->sha, sha);
  EXPECT_EQ(head->summary, "first commit");
  EXPECT_GT(head->time_unix, 1600000000);

  auto tree = source->TreeAt(sha);
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_EQ(*(*tree)->ReadFile("plumb.yaml"), "version: 1\n");
  EXPECT_EQ(*(*tree)->ReadFile("modules/x/module.yaml"), "resources: []\n");
  EXPECT_EQ(*(*tree)->ReadFile("./modules//x/module.yaml"), "resources: []\n");
  EXPECT_EQ(*(*tree)->ListDir(""), (std::vector<std::string>{"modules", "plumb.yaml"}));
  EXPECT_EQ(*(*tree)->ListDir("."), (std::vector<std::string>{"modules", "plumb.yaml"}));
  EXPECT_EQ(*(*tree)->ListDir("modules"), (std::vector<std::string>{"x", "x-y"}));
  EXPECT_EQ(*(*tree)->ListDir("modules/x/"), (std::vector<std::string>{"module.yaml"}));

  EXPECT_EQ((*tree)->ReadFile("missing.yaml").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*tree)->ReadFile("modules").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*tree)->ListDir("plumb.yaml").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*tree)->ListDir("modules/nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*tree)->ReadFile("../origin.git/HEAD").status().code(),
            absl::StatusCode::kInvalidArgument);

  // A short sha works too; garbage and unknown commits do not.
  EXPECT_TRUE(source->TreeAt(sha.substr(0, 10)).ok());
  EXPECT_EQ(source->TreeAt("not-a-sha").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(source->TreeAt(std::string(40, '0')).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(GitSourceTest, SecondCommitIsFetchedAndOldTreeKeepsOldContent) {
  std::string first = FirstCommit();
  auto source = OpenOrDie(origin_);
  ASSERT_EQ(source->Fetch()->sha, first);
  auto old_tree = source->TreeAt(first);
  ASSERT_TRUE(old_tree.ok()) << old_tree.status();

  WriteFileOrDie(work_ + "/plumb.yaml", "version: 1\nvars: {a: b}\n");
  WriteFileOrDie(work_ + "/modules/y/module.yaml", "vars: {}\n");
  ASSERT_EQ(Git("rm -q -r modules/x-y"), 0);
  std::string second = CommitAndPush("second");
  ASSERT_NE(second, first);

  auto head = source->Fetch();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->sha, second);
  EXPECT_EQ(head->summary, "second");

  // The snapshot taken before the fetch is untouched by it.
  EXPECT_EQ(*(*old_tree)->ReadFile("plumb.yaml"), "version: 1\n");
  EXPECT_EQ(*(*old_tree)->ListDir("modules"), (std::vector<std::string>{"x", "x-y"}));
  auto new_tree = source->TreeAt(second);
  ASSERT_TRUE(new_tree.ok());
  EXPECT_EQ(*(*new_tree)->ReadFile("plumb.yaml"), "version: 1\nvars: {a: b}\n");
  EXPECT_EQ(*(*new_tree)->ListDir("modules"), (std::vector<std::string>{"x", "y"}));
  // And the old commit can still be read from the mirror after the fetch.
  auto again = source->TreeAt(first);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*(*again)->ReadFile("plumb.yaml"), "version: 1\n");
}

TEST_F(GitSourceTest, ForcePushedHistoryIsFollowed) {
  FirstCommit();
  auto source = OpenOrDie(origin_);
  ASSERT_TRUE(source->Fetch().ok());
  WriteFileOrDie(work_ + "/plumb.yaml", "version: 1 # amended\n");
  ASSERT_EQ(Git("add -A"), 0);
  ASSERT_EQ(Git("commit -q --amend -m amended"), 0);
  ASSERT_EQ(Git("push -q -f origin main"), 0);
  std::string amended;
  RunShell("git -C " + ShellQuote(work_) + " rev-parse HEAD", &amended);
  auto head = source->Fetch();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->sha, std::string(absl::StripAsciiWhitespace(amended)));
}

TEST_F(GitSourceTest, FileUrlWorks) {
  std::string sha = FirstCommit();
  auto source = OpenOrDie("file://" + origin_);
  auto head = source->Fetch();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->sha, sha);
}

TEST_F(GitSourceTest, ALocalRepositoryOwnedByAnotherUserIsFetched) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to chown";
  std::string sha = FirstCommit();
  ASSERT_EQ(std::system(("chown -R 65534:65534 " + origin_).c_str()), 0);
  auto source = OpenOrDie(origin_);
  auto head = source->Fetch();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->sha, sha);
}

TEST_F(GitSourceTest, MissingBranchIsNotFound) {
  FirstCommit();
  auto source = OpenOrDie(origin_, "release");
  auto head = source->Fetch();
  ASSERT_FALSE(head.ok());
  EXPECT_EQ(head.status().code(), absl::StatusCode::kNotFound) << head.status();
  EXPECT_NE(head.status().message().find("release"), absl::string_view::npos) << head.status();
}

TEST_F(GitSourceTest, DeletedBranchIsNotFound) {
  FirstCommit();
  ASSERT_EQ(Git("push -q origin main:release"), 0);
  auto source = OpenOrDie(origin_, "release");
  ASSERT_TRUE(source->Fetch().ok());
  ASSERT_EQ(Git("push -q origin :release"), 0);
  EXPECT_EQ(source->Fetch().status().code(), absl::StatusCode::kNotFound);
}

TEST_F(GitSourceTest, InvalidBranchNameIsRejected) {
  auto source = GitSource::Open(origin_, "bad..name", mirror_);
  EXPECT_EQ(source.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(GitSourceTest, DeadRemoteIsUnavailableAndNamesUrl) {
  std::string url = dir_.Sub("no-such-repo.git");
  auto source = OpenOrDie(url);
  auto head = source->Fetch();
  ASSERT_FALSE(head.ok());
  EXPECT_EQ(head.status().code(), absl::StatusCode::kUnavailable) << head.status();
  EXPECT_NE(head.status().message().find(url), absl::string_view::npos) << head.status();
  EXPECT_NE(head.status().message().find("no such local repository"), absl::string_view::npos);
}

// Binds 127.0.0.1:0 to learn a port nobody listens on (closed again before use).
int FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) return -1;
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

bool CanConnect(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

TEST_F(GitSourceTest, DeadGitDaemonIsUnavailable) {
  int port = FreeLoopbackPort();
  ASSERT_GT(port, 0);
  std::string url = absl::StrCat("git://127.0.0.1:", port, "/origin.git");
  auto head = OpenOrDie(url)->Fetch();
  ASSERT_FALSE(head.ok());
  EXPECT_EQ(head.status().code(), absl::StatusCode::kUnavailable) << head.status();
  EXPECT_NE(head.status().message().find(url), absl::string_view::npos) << head.status();
}

TEST(RedactUrlTest, MasksUserinfoOnly) {
  EXPECT_EQ(RedactUrl("https://bot:s3cret-token@git.example.org/ops/fleet.git"),
            "https://***@git.example.org/ops/fleet.git");
  EXPECT_EQ(RedactUrl("https://tok3n@host/x"), "https://***@host/x");
  EXPECT_EQ(RedactUrl("https://host/a@b"), "https://host/a@b");  // '@' in the path
  EXPECT_EQ(RedactUrl("git@github.com:ops/fleet.git"), "git@github.com:ops/fleet.git");
  EXPECT_EQ(RedactUrl("/srv/git/fleet.git"), "/srv/git/fleet.git");
  EXPECT_EQ(ScrubCredentials("auth failed for bot:s3cret-token, and s3cret-token again",
                             "https://bot:s3cret-token@h/x"),
            "auth failed for ***, and *** again");
}

TEST_F(GitSourceTest, FetchErrorsNeverCarryTheUrlsCredentials) {
  int port = FreeLoopbackPort();
  ASSERT_GT(port, 0);
  for (const std::string& scheme : {"http", "git"}) {
    std::string url =
        absl::StrCat(scheme, "://deploy:hunter2-s3cret@127.0.0.1:", port, "/origin.git");
    auto head = OpenOrDie(url)->Fetch();
    ASSERT_FALSE(head.ok());
    std::string message(head.status().message());
    EXPECT_EQ(message.find("hunter2-s3cret"), std::string::npos) << message;
    EXPECT_NE(message.find(absl::StrCat(scheme, "://***@127.0.0.1:", port)), std::string::npos)
        << message;
  }
}

// A git server that hangs: listens on 127.0.0.1, lets the kernel complete connections, and
// never reads nor answers.
class SilentServer {
 public:
  SilentServer() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(fd_, 16) != 0) {
      return;
    }
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~SilentServer() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

TEST_F(GitSourceTest, ASilentRemoteFailsTheFetchAfterTheTimeout) {
  SilentServer silent;
  ASSERT_GT(silent.port(), 0);
  for (const std::string& scheme : {"git", "http"}) {
    std::string url = absl::StrCat(scheme, "://127.0.0.1:", silent.port(), "/origin.git");
    auto source = GitSource::Open(url, "main", dir_.Sub("mirror-" + scheme), absl::Seconds(1));
    ASSERT_TRUE(source.ok()) << source.status();
    absl::Time start = absl::Now();
    auto head = (*source)->Fetch();
    absl::Duration took = absl::Now() - start;
    ASSERT_FALSE(head.ok()) << scheme;
    EXPECT_EQ(head.status().code(), absl::StatusCode::kUnavailable) << head.status();
    EXPECT_NE(head.status().message().find("timed out after 1s"), absl::string_view::npos)
        << head.status();
    EXPECT_NE(head.status().message().find(url), absl::string_view::npos) << head.status();
    EXPECT_LT(took, absl::Seconds(30)) << scheme;  // bounded, not forever
  }
  // Live remotes still work (GitDaemonUrlWorks fetches over git:// through the same stream).
  FirstCommit();
  auto live = OpenOrDie(origin_);
  ASSERT_NE(live, nullptr);
  auto head = live->Fetch();
  EXPECT_TRUE(head.ok()) << head.status();
}

TEST_F(GitSourceTest, ARefusedConnectionFailsAtOnceNamingTheAddress) {
  int port = FreeLoopbackPort();
  ASSERT_GT(port, 0);
  auto source = GitSource::Open(absl::StrCat("git://127.0.0.1:", port, "/x.git"), "main",
                                mirror_, absl::Seconds(30));
  ASSERT_TRUE(source.ok());
  absl::Time start = absl::Now();
  auto head = (*source)->Fetch();
  ASSERT_FALSE(head.ok());
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_NE(head.status().message().find(absl::StrCat("127.0.0.1:", port)), absl::string_view::npos)
      << head.status();
  EXPECT_NE(head.status().message().find("refused"), absl::string_view::npos) << head.status();
}

// `git daemon` serving dir_ on 127.0.0.1 only, for the lifetime of the object.
class GitDaemon {
 public:
  GitDaemon(const std::string& base_path, int port) : port_(port) {
    pid_ = fork();
    if (pid_ == 0) {
      // Keep the test's output clean: upload-pack chatter goes to a log beside the repos.
      std::string log = base_path + "/daemon.log";
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
      }
      execlp("git", "git", "daemon", "--reuseaddr", "--export-all", "--informative-errors",
             ("--base-path=" + base_path).c_str(), "--listen=127.0.0.1",
             ("--port=" + std::to_string(port)).c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  ~GitDaemon() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  // Waits (up to 10 s) until the daemon accepts connections.
  bool WaitReady() {
    for (int i = 0; i < 200; ++i) {
      if (CanConnect(port_)) return true;
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return false;  // exited (port taken?)
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

 private:
  int port_;
  pid_t pid_ = -1;
};

TEST_F(GitSourceTest, GitDaemonUrlWorks) {
  std::string first = FirstCommit();
  int port = FreeLoopbackPort();
  ASSERT_GT(port, 0);
  GitDaemon daemon(dir_.path(), port);
  ASSERT_TRUE(daemon.WaitReady()) << "git daemon did not start on port " << port;

  auto source = OpenOrDie(absl::StrCat("git://127.0.0.1:", port, "/origin.git"));
  auto head = source->Fetch();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->sha, first);
  WriteFileOrDie(work_ + "/modules/x/module.yaml", "resources: [1]\n");
  std::string second = CommitAndPush("second");
  head = source->Fetch();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->sha, second);
  EXPECT_EQ(*(*source->TreeAt(second))->ReadFile("modules/x/module.yaml"), "resources: [1]\n");
}

TEST_F(GitSourceTest, ChangedUrlIsUsedOnReopen) {
  std::string sha = FirstCommit();
  {
    auto dead = OpenOrDie(dir_.Sub("elsewhere.git"));
    EXPECT_FALSE(dead->Fetch().ok());
  }
  auto source = OpenOrDie(origin_);  // same mirror, new URL
  auto head = source->Fetch();
  ASSERT_TRUE(head.ok()) << head.status();
  EXPECT_EQ(head->sha, sha);
  std::string url;
  RunShell("git -C " + ShellQuote(mirror_) + " config remote.origin.url", &url);
  EXPECT_EQ(std::string(absl::StripAsciiWhitespace(url)), origin_);
}

TEST_F(GitSourceTest, TreesAreReadableWhileFetching) {
  std::string first = FirstCommit();
  auto source = OpenOrDie(origin_);
  ASSERT_TRUE(source->Fetch().ok());
  auto tree = source->TreeAt(first);
  ASSERT_TRUE(tree.ok());
  std::vector<std::thread> readers;
  std::atomic<int> bad{0};
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&] {
      for (int i = 0; i < 200; ++i) {
        auto content = (*tree)->ReadFile("plumb.yaml");
        if (!content.ok() || *content != "version: 1\n") ++bad;
        auto other = source->TreeAt(first);
        if (!other.ok()) ++bad;
        if (i % 50 == 0 && !source->Fetch().ok()) ++bad;
      }
    });
  }
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace plumb

namespace plumb {
namespace {

TEST(GitRefNameTest, OnlyPlainNamesAreAccepted) {
  for (const char* ok : {"main", "feature/x", "v1.2.3", "release-2024_01", "4f2a9c1e", "a+b"}) {
    EXPECT_TRUE(IsPlainRefName(ok)) << ok;
  }
  for (const char* bad : {"", "-upload-pack=x", "/main", "main/", "a..b", "a//b", "a/.b", ".x",
                          "x.", "x.lock", "HEAD@{1}", "main~1", "main^", "a:b", "a b", "*",
                          "refs/heads/main", "a\\b", "a?", "a[b"}) {
    EXPECT_FALSE(IsPlainRefName(bad)) << bad;
  }
  EXPECT_FALSE(IsPlainRefName(std::string(201, 'a')));
}

TEST_F(GitSourceTest, FetchRefResolvesBranchTagAndShaWithoutMovingTheFollowedBranch) {
  std::string first = FirstCommit();
  auto source = OpenOrDie(origin_);
  ASSERT_NE(source, nullptr);
  ASSERT_TRUE(source->Fetch().ok());
  // A branch with its own commit, and an annotated tag on it, pushed but never followed.
  ASSERT_EQ(Git("checkout -q -b feature/x"), 0);
  WriteFileOrDie(work_ + "/plumb.yaml", "version: 1\n# feature\n");
  ASSERT_EQ(Git("commit -q -am feature"), 0);
  ASSERT_EQ(Git("tag -a -m tagged v1.0"), 0);
  ASSERT_EQ(Git("push -q origin feature/x v1.0"), 0);
  std::string feature;
  RunShell("git -C " + ShellQuote(work_) + " rev-parse HEAD", &feature);
  feature = std::string(absl::StripAsciiWhitespace(feature));

  auto branch = source->FetchRef("feature/x");
  ASSERT_TRUE(branch.ok()) << branch.status();
  EXPECT_EQ(branch->sha, feature);
  EXPECT_EQ(branch->summary, "feature");
  auto tag = source->FetchRef("v1.0");
  ASSERT_TRUE(tag.ok()) << tag.status();
  EXPECT_EQ(tag->sha, feature);  // peeled to the commit
  auto tree = source->TreeAt(feature);
  ASSERT_TRUE(tree.ok()) << tree.status();
  EXPECT_EQ(*(*tree)->ReadFile("plumb.yaml"), "version: 1\n# feature\n");
  // A commit id, full or short, already in the mirror or not.
  EXPECT_EQ(source->FetchRef(first.substr(0, 10))->sha, first);
  EXPECT_EQ(source->FetchRef(feature)->sha, feature);
  // The followed branch still names the first commit.
  EXPECT_EQ(source->Fetch()->sha, first);

  EXPECT_EQ(source->FetchRef("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(source->FetchRef(std::string(40, 'e')).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(source->FetchRef("main~1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(source->FetchRef("--upload-pack=touch x").status().code(),
            absl::StatusCode::kInvalidArgument);
  // A deleted branch is not answered from the mirror's old copy.
  ASSERT_EQ(Git("push -q origin --delete feature/x"), 0);
  EXPECT_EQ(source->FetchRef("feature/x").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace plumb
