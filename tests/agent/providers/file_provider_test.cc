#include "agent/providers/file_provider.h"

#include <sys/stat.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/agent_test_fakes.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::plumb::testing::MakeResource;
using ::plumb::testing::MapBlobSource;
using ::plumb::testing::ReadFileOrEmpty;
using ::plumb::testing::StatPath;
using ::plumb::testing::TempDir;
using ::plumb::testing::WriteFileOrDie;
using ::testing::HasSubstr;

class FileProviderTest : public ::testing::Test {
 protected:
  FileProviderTest() : fs_(NewRootedFilesystem(dir_.path())), provider_(fs_.get(), &blobs_) {}

  v1::Resource File(const std::string& path, const std::string& content,
                    std::map<std::string, std::string> attributes = {}) {
    v1::Resource r = MakeResource("file", path, attributes);
    r.set_content_digest(blobs_.Put(content));
    r.set_content_size(static_cast<int64_t>(content.size()));
    return r;
  }
  // Check then, if needed, apply; returns the check.
  CheckResult Converge(const v1::Resource& r) {
    absl::StatusOr<CheckResult> check = provider_.Check(r);
    EXPECT_TRUE(check.ok()) << check.status();
    if (!check.ok()) return {};
    if (!check->in_sync) {
      absl::StatusOr<ChangeResult> applied = provider_.Apply(r, *check);
      EXPECT_TRUE(applied.ok()) << applied.status();
    }
    return *check;
  }
  std::string Host(const std::string& path) { return dir_.path() + path; }

  TempDir dir_;
  MapBlobSource blobs_;
  std::unique_ptr<Filesystem> fs_;
  FileProvider provider_;
};

TEST_F(FileProviderTest, CreatesFileWithContentAndMode) {
  CheckResult check = Converge(File("/etc/motd", "hello\n", {{"mode", "0640"}}));
  EXPECT_FALSE(check.in_sync);
  EXPECT_THAT(check.diff, HasSubstr("+hello"));
  EXPECT_EQ(ReadFileOrEmpty(Host("/etc/motd")), "hello\n");
  EXPECT_EQ(StatPath(Host("/etc/motd")).st_mode & 07777, 0640u);
}

TEST_F(FileProviderTest, NoChangeMeansNoWrite) {
  v1::Resource r = File("/etc/motd", "hello\n", {{"mode", "0644"}});
  Converge(r);
  struct stat before = StatPath(Host("/etc/motd"));
  usleep(20000);  // so that a rewrite would show in mtime too
  absl::StatusOr<CheckResult> check = provider_.Check(r);
  ASSERT_TRUE(check.ok());
  EXPECT_TRUE(check->in_sync) << check->message;
  struct stat after = StatPath(Host("/etc/motd"));
  EXPECT_EQ(before.st_ino, after.st_ino);
  EXPECT_EQ(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
  EXPECT_EQ(before.st_ctim.tv_nsec, after.st_ctim.tv_nsec);
}

TEST_F(FileProviderTest, UpdatesContentAtomicallyWithDiff) {
  WriteFileOrDie(Host("/etc/app.conf"), "a\nb\nc\n");
  struct stat before = StatPath(Host("/etc/app.conf"));
  CheckResult check = Converge(File("/etc/app.conf", "a\nB\nc\n"));
  EXPECT_FALSE(check.in_sync);
  EXPECT_THAT(check.message, HasSubstr("content differs"));
  EXPECT_THAT(check.diff, HasSubstr("-b\n+B\n"));
  EXPECT_EQ(ReadFileOrEmpty(Host("/etc/app.conf")), "a\nB\nc\n");
  // Atomic replace: a new inode was renamed into place.
  EXPECT_NE(StatPath(Host("/etc/app.conf")).st_ino, before.st_ino);
}

TEST_F(FileProviderTest, ModeOnlyChangeKeepsInode) {
  WriteFileOrDie(Host("/f"), "same");
  chmod(Host("/f").c_str(), 0600);
  struct stat before = StatPath(Host("/f"));
  CheckResult check = Converge(File("/f", "same", {{"mode", "0644"}}));
  EXPECT_EQ(check.message, "mode 0600 -> 0644");
  EXPECT_TRUE(check.diff.empty());
  EXPECT_EQ(StatPath(Host("/f")).st_ino, before.st_ino);
  EXPECT_EQ(StatPath(Host("/f")).st_mode & 07777, 0644u);
}

TEST_F(FileProviderTest, OwnerAndGroupByNameAndNumber) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  Converge(File("/a", "x", {{"owner", "1234"}, {"group", "4321"}}));
  EXPECT_EQ(StatPath(Host("/a")).st_uid, 1234u);
  EXPECT_EQ(StatPath(Host("/a")).st_gid, 4321u);
  CheckResult check = Converge(File("/a", "x", {{"owner", "root"}, {"group", "root"}}));
  EXPECT_EQ(check.message, "owner 1234 -> 0; group 4321 -> 0");
  EXPECT_EQ(StatPath(Host("/a")).st_uid, 0u);
  EXPECT_EQ(StatPath(Host("/a")).st_gid, 0u);
}

TEST_F(FileProviderTest, UnknownOwnerIsADifferenceThenAnApplyError) {
  v1::Resource r = File("/a", "x", {{"owner", "no-such-user-plumb"}});
  absl::StatusOr<CheckResult> check = provider_.Check(r);
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->in_sync);
  EXPECT_THAT(check->message, HasSubstr("no-such-user-plumb"));
  EXPECT_FALSE(provider_.Apply(r, *check).ok());
  EXPECT_EQ(ReadFileOrEmpty(Host("/a")), "<missing>");
}

TEST_F(FileProviderTest, EnsureAbsentRemovesAndIsIdempotent) {
  WriteFileOrDie(Host("/old"), "bye\n");
  v1::Resource r = MakeResource("file", "/old", {{"ensure", "absent"}});
  CheckResult check = Converge(r);
  EXPECT_FALSE(check.in_sync);
  EXPECT_THAT(check.diff, HasSubstr("-bye"));
  EXPECT_EQ(StatPath(Host("/old")).st_ino, 0u);
  EXPECT_TRUE(provider_.Check(r)->in_sync);
}

TEST_F(FileProviderTest, SensitiveContentNeverInDiffOrMessage) {
  WriteFileOrDie(Host("/secret"), "old-password\n");
  v1::Resource r = File("/secret", "new-password\n");
  r.set_sensitive(true);
  CheckResult check = Converge(r);
  EXPECT_FALSE(check.in_sync);
  EXPECT_TRUE(check.diff.empty());
  EXPECT_THAT(check.message, ::testing::Not(HasSubstr("password")));
  EXPECT_EQ(ReadFileOrEmpty(Host("/secret")), "new-password\n");
}

TEST_F(FileProviderTest, SensitiveFileWithoutModeIsCreated0600WhateverTheUmask) {
  mode_t old_umask = umask(0);
  v1::Resource r = File("/etc/secret", "token\n");
  r.set_sensitive(true);
  Converge(r);
  umask(old_umask);
  EXPECT_EQ(StatPath(Host("/etc/secret")).st_mode & 07777, 0600u);
  EXPECT_TRUE(provider_.Check(r)->in_sync);
}

// A secret rotated into a file that was world-readable: it is narrowed to 0600 as well.
TEST_F(FileProviderTest, SensitiveFileWithoutModeIsNarrowedTo0600) {
  WriteFileOrDie(Host("/secret"), "old\n");
  chmod(Host("/secret").c_str(), 0644);
  v1::Resource r = File("/secret", "new\n");
  r.set_sensitive(true);
  CheckResult check = Converge(r);
  EXPECT_THAT(check.message, HasSubstr("mode 0644 -> 0600"));
  EXPECT_EQ(StatPath(Host("/secret")).st_mode & 07777, 0600u);
  // An explicit mode still wins.
  v1::Resource shared = File("/shared", "x", {{"mode", "0640"}});
  shared.set_sensitive(true);
  Converge(shared);
  EXPECT_EQ(StatPath(Host("/shared")).st_mode & 07777, 0640u);
}

TEST_F(FileProviderTest, RefusesToReplaceADirectory) {
  mkdir(Host("/d").c_str(), 0755);
  absl::StatusOr<CheckResult> check = provider_.Check(File("/d", "x"));
  EXPECT_FALSE(check.ok());
  EXPECT_THAT(std::string(check.status().message()), HasSubstr("is a directory"));
}

TEST_F(FileProviderTest, MissingOrCorruptBlobFails) {
  v1::Resource r = MakeResource("file", "/x");
  r.set_content_digest(std::string(64, 'a'));
  EXPECT_TRUE(absl::IsNotFound(provider_.Check(r).status()));
  EXPECT_EQ(ReadFileOrEmpty(Host("/x")), "<missing>");
}

TEST_F(FileProviderTest, NoContentManagesExistenceOnly) {
  v1::Resource r = MakeResource("file", "/empty", {{"mode", "0600"}});
  Converge(r);
  EXPECT_EQ(ReadFileOrEmpty(Host("/empty")), "");
  WriteFileOrDie(Host("/empty"), "user data");
  chmod(Host("/empty").c_str(), 0600);
  EXPECT_TRUE(provider_.Check(r)->in_sync);
}

TEST_F(FileProviderTest, SymlinkSwapBetweenCheckAndApplyIsRefused) {
  TempDir outside;
  WriteFileOrDie(outside.Sub("conf"), "outside\n");
  mkdir(Host("/etc").c_str(), 0755);
  v1::Resource r = File("/etc/conf", "inside\n");
  absl::StatusOr<CheckResult> check = provider_.Check(r);
  ASSERT_TRUE(check.ok());
  // Replace the directory with a symlink to outside the root between check and apply.
  ASSERT_EQ(rmdir(Host("/etc").c_str()), 0);
  ASSERT_EQ(symlink(outside.path().c_str(), Host("/etc").c_str()), 0);
  absl::StatusOr<ChangeResult> applied = provider_.Apply(r, *check);
  EXPECT_TRUE(absl::IsPermissionDenied(applied.status())) << applied.status();
  EXPECT_EQ(ReadFileOrEmpty(outside.Sub("conf")), "outside\n");
}

TEST_F(FileProviderTest, DotDotInNameIsRefused) {
  absl::StatusOr<CheckResult> check = provider_.Check(File("/../../tmp/escape", "x"));
  EXPECT_TRUE(absl::IsInvalidArgument(check.status())) << check.status();
}

}  // namespace
}  // namespace plumb
