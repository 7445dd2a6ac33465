#include "agent/host/parent_cache.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::TempDir;
using testing::WriteFileOrDie;

ino_t InodeOf(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

ino_t InodeOf(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

TEST(ParentCacheTest, ACachedParentIsLentNotDuplicated) {
  TempDir root;
  WriteFileOrDie(root.Sub("etc/a"), "a");
  ParentCache cache;
  absl::StatusOr<ResolvedPath> first = cache.Resolve(root.path(), "/etc/a", false);
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<ResolvedPath> second = cache.Resolve(root.path(), "/etc/b", false);
  ASSERT_TRUE(second.ok()) << second.status();
  // One descriptor for the directory, no dup (and close) per call.
  EXPECT_FALSE(second->parent.valid());
  EXPECT_EQ(second->dir(), first->dir());
  EXPECT_EQ(second->name, "b");
  EXPECT_EQ(InodeOf(second->dir()), InodeOf(root.Sub("etc")));
}

TEST(ParentCacheTest, ALentParentStaysOpenAcrossClearUntilTheNextResolve) {
  TempDir root;
  WriteFileOrDie(root.Sub("etc/a"), "a");
  WriteFileOrDie(root.Sub("var/b"), "b");
  ParentCache cache;
  absl::StatusOr<ResolvedPath> r = cache.Resolve(root.path(), "/etc/a", false);
  ASSERT_TRUE(r.ok()) << r.status();
  cache.Clear();  // as Remove or MakeSymlink do between their Resolve and their *at() calls
  EXPECT_EQ(InodeOf(r->dir()), InodeOf(root.Sub("etc")));
  struct stat st;
  EXPECT_EQ(fstatat(r->dir(), "a", &st, AT_SYMLINK_NOFOLLOW), 0);
  // After Clear the next Resolve walks again, and finds what is there now.
  absl::StatusOr<ResolvedPath> next = cache.Resolve(root.path(), "/var/b", false);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_EQ(InodeOf(next->dir()), InodeOf(root.Sub("var")));
}

TEST(ParentCacheTest, ClearForgetsAReplacedDirectory) {
  TempDir root;
  WriteFileOrDie(root.Sub("etc/a"), "a");
  ParentCache cache;
  ASSERT_TRUE(cache.Resolve(root.path(), "/etc/a", false).ok());
  ASSERT_EQ(rename(root.Sub("etc").c_str(), root.Sub("old").c_str()), 0);
  WriteFileOrDie(root.Sub("etc/a"), "new");
  cache.Clear();
  absl::StatusOr<ResolvedPath> r = cache.Resolve(root.path(), "/etc/a", false);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(InodeOf(r->dir()), InodeOf(root.Sub("etc")));
}

}  // namespace
}  // namespace plumb
