// Filesystem::RemoveTree's bounds on a real directory: a depth limit, and never crossing into a
// mount point (a tmpfs and a bind mount, set up in a private mount namespace of a child).

#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "agent/host/filesystem.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/agent_test_fakes.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::plumb::testing::ReadFileOrEmpty;
using ::plumb::testing::TempDir;
using ::plumb::testing::WriteFileOrDie;
using ::testing::HasSubstr;

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

TEST(RemoveTreeTest, StopsAtTheDepthLimitNamingThePath) {
  TempDir dir;
  std::string deep = "/tree";
  for (int i = 0; i < 130; ++i) deep += "/d";
  WriteFileOrDie(dir.path() + deep + "/file", "x");
  auto fs = NewRootedFilesystem(dir.path());
  absl::Status removed = fs->RemoveTree("/tree");
  EXPECT_TRUE(absl::IsFailedPrecondition(removed)) << removed;
  // "/tree" then 128 levels of "/d": the 129th is refused.
  std::string refused = "/tree";
  for (int i = 0; i < 128; ++i) refused += "/d";
  EXPECT_THAT(removed.message(), HasSubstr(refused + " is more than 128 directories deep"));
  EXPECT_EQ(ReadFileOrEmpty(dir.path() + deep + "/file"), "x");

  // Within the limit, a deep tree goes.
  std::string ok = "/ok";
  for (int i = 0; i < 100; ++i) ok += "/d";
  WriteFileOrDie(dir.path() + ok + "/file", "x");
  EXPECT_TRUE(fs->RemoveTree("/ok").ok());
  EXPECT_FALSE(Exists(dir.path() + "/ok"));
}

// Runs in a forked child: exit 0 if RemoveTree refused both mount points and left their
// contents alone, 77 if mounts cannot be made here, 1 (with a line on stderr) otherwise.
int MountChild(const std::string& root) {
  if (unshare(CLONE_NEWNS) != 0) return 77;
  if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return 77;
  mkdir((root + "/tree").c_str(), 0755);
  mkdir((root + "/tree/mnt").c_str(), 0755);
  if (mount("none", (root + "/tree/mnt").c_str(), "tmpfs", 0, nullptr) != 0) return 77;
  WriteFileOrDie(root + "/tree/mnt/data", "on another filesystem");
  WriteFileOrDie(root + "/kept/data", "bound elsewhere");
  mkdir((root + "/tree2").c_str(), 0755);
  mkdir((root + "/tree2/bind").c_str(), 0755);
  if (mount((root + "/kept").c_str(), (root + "/tree2/bind").c_str(), nullptr, MS_BIND, nullptr) !=
      0) {
    return 77;
  }
  auto fs = NewRootedFilesystem(root);
  struct Case {
    const char* tree;
    const char* mount_point;
    std::string survivor;
  };
  for (const Case& c : {Case{"/tree", "/tree/mnt", root + "/tree/mnt/data"},
                        Case{"/tree2", "/tree2/bind", root + "/kept/data"}}) {
    absl::Status removed = fs->RemoveTree(c.tree);
    std::string want = std::string(c.mount_point) + " is a mount point";
    if (!absl::IsFailedPrecondition(removed) || removed.message().find(want) == std::string::npos) {
      fprintf(stderr, "RemoveTree(%s): want \"%s\", got %s\n", c.tree, want.c_str(),
              removed.ToString().c_str());
      return 1;
    }
    if (!Exists(c.survivor)) {
      fprintf(stderr, "RemoveTree(%s) deleted %s\n", c.tree, c.survivor.c_str());
      return 1;
    }
  }
  // The mount point itself, named directly, is refused as well.
  if (!absl::IsFailedPrecondition(fs->RemoveTree("/tree/mnt"))) {
    fprintf(stderr, "RemoveTree(/tree/mnt) was not refused\n");
    return 1;
  }
  return 0;
}

TEST(RemoveTreeTest, NeverCrossesIntoAMountPoint) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to mount in a private namespace";
  TempDir dir;
  fflush(nullptr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) _exit(MountChild(dir.path()));
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  if (WEXITSTATUS(status) == 77) GTEST_SKIP() << "cannot mount here";
  EXPECT_EQ(WEXITSTATUS(status), 0) << "see the child's message above";
}

}  // namespace
}  // namespace plumb
