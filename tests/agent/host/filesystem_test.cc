#include "agent/host/filesystem.h"

#include <sys/stat.h>
#include <unistd.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/agent_test_fakes.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::plumb::testing::ReadFileOrEmpty;
using ::plumb::testing::StatPath;
using ::plumb::testing::TempDir;
using ::plumb::testing::WriteFileOrDie;
using ::testing::HasSubstr;

// A root folder and a sibling "outside" folder that nothing may touch.
class FilesystemTest : public ::testing::Test {
 protected:
  FilesystemTest()
      : root_(dir_.Sub("root")), outside_(dir_.Sub("outside")), fs_(NewRootedFilesystem(root_)) {
    mkdir(root_.c_str(), 0755);
    WriteFileOrDie(outside_ + "/secret", "secret\n");
  }
  TempDir dir_;
  std::string root_;
  std::string outside_;
  std::unique_ptr<Filesystem> fs_;
};

TEST_F(FilesystemTest, WriteFileCreatesParentsWithContentAndMode) {
  FileMetadata meta;
  meta.mode = 0640;
  ASSERT_TRUE(fs_->WriteFile("/etc/app/app.conf", "hello\n", meta).ok());
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/etc/app/app.conf"), "hello\n");
  EXPECT_EQ(StatPath(root_ + "/etc/app/app.conf").st_mode & 07777, 0640u);
  EXPECT_EQ(StatPath(root_ + "/etc/app").st_mode & 07777, 0755u);
  absl::StatusOr<FileStat> st = fs_->Stat("/etc/app/app.conf");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->type, FileType::kRegular);
  EXPECT_EQ(st->size, 6u);
}

TEST_F(FilesystemTest, WriteFileLeavesNoTempFilesAndKeepsExistingMode) {
  WriteFileOrDie(root_ + "/f", "old");
  chmod((root_ + "/f").c_str(), 0600);
  ASSERT_TRUE(fs_->WriteFile("/f", "new", FileMetadata{}).ok());
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/f"), "new");
  EXPECT_EQ(StatPath(root_ + "/f").st_mode & 07777, 0600u);
  std::string listing;
  plumb::testing::RunShell("ls -A " + root_, &listing);
  EXPECT_EQ(listing, "f\n");
}

TEST_F(FilesystemTest, MissingPathAndMissingParentAreMissing) {
  EXPECT_EQ(fs_->Stat("/nope")->type, FileType::kMissing);
  EXPECT_EQ(fs_->Stat("/no/such/dir/file")->type, FileType::kMissing);
}

TEST_F(FilesystemTest, DotDotIsRefused) {
  absl::Status status = fs_->WriteFile("/../outside/secret", "pwned", FileMetadata{});
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;
  EXPECT_EQ(ReadFileOrEmpty(outside_ + "/secret"), "secret\n");
  EXPECT_FALSE(fs_->Stat("relative/path").ok());
}

TEST_F(FilesystemTest, AbsoluteSymlinkLeadingOutsideIsRefused) {
  ASSERT_EQ(symlink(outside_.c_str(), (root_ + "/etc").c_str()), 0);
  absl::Status status = fs_->WriteFile("/etc/secret", "pwned", FileMetadata{});
  EXPECT_TRUE(absl::IsPermissionDenied(status)) << status;
  EXPECT_THAT(std::string(status.message()), HasSubstr("leads outside root"));
  EXPECT_EQ(ReadFileOrEmpty(outside_ + "/secret"), "secret\n");
  EXPECT_TRUE(absl::IsPermissionDenied(fs_->Stat("/etc/secret").status()));
  EXPECT_TRUE(absl::IsPermissionDenied(fs_->Remove("/etc/secret")));
  EXPECT_TRUE(absl::IsPermissionDenied(fs_->RemoveTree("/etc/secret")));
  EXPECT_EQ(ReadFileOrEmpty(outside_ + "/secret"), "secret\n");
}

TEST_F(FilesystemTest, RelativeSymlinkClimbingOutIsRefused) {
  mkdir((root_ + "/a").c_str(), 0755);
  ASSERT_EQ(symlink("../../outside", (root_ + "/a/link").c_str()), 0);
  absl::Status status = fs_->WriteFile("/a/link/secret", "pwned", FileMetadata{});
  EXPECT_TRUE(absl::IsPermissionDenied(status)) << status;
  EXPECT_EQ(ReadFileOrEmpty(outside_ + "/secret"), "secret\n");
}

TEST_F(FilesystemTest, SymlinksInsideRootAreFollowed) {
  mkdir((root_ + "/real").c_str(), 0755);
  ASSERT_EQ(symlink("real", (root_ + "/rel").c_str()), 0);
  ASSERT_EQ(symlink((root_ + "/real").c_str(), (root_ + "/abs").c_str()), 0);
  ASSERT_TRUE(fs_->WriteFile("/rel/one", "1", FileMetadata{}).ok());
  ASSERT_TRUE(fs_->WriteFile("/abs/two", "2", FileMetadata{}).ok());
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/real/one"), "1");
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/real/two"), "2");
}

TEST_F(FilesystemTest, FinalSymlinkIsReplacedNotFollowed) {
  const std::string secret = outside_ + "/secret";
  chmod(secret.c_str(), 0644);
  ASSERT_EQ(symlink(secret.c_str(), (root_ + "/motd").c_str()), 0);
  absl::StatusOr<FileStat> st = fs_->Stat("/motd");
  ASSERT_TRUE(st.ok());
  EXPECT_EQ(st->type, FileType::kSymlink);
  EXPECT_FALSE(fs_->ReadFile("/motd", 1024).ok());
  FileMetadata meta;
  meta.mode = 0600;
  ASSERT_TRUE(fs_->SetMetadata("/motd", meta).ok());  // a link has no mode of its own
  EXPECT_EQ(StatPath(secret).st_mode & 07777, 0644u);
  ASSERT_TRUE(fs_->WriteFile("/motd", "mine", FileMetadata{}).ok());
  EXPECT_TRUE(S_ISREG(StatPath(root_ + "/motd").st_mode));
  EXPECT_EQ(ReadFileOrEmpty(root_ + "/motd"), "mine");
  EXPECT_EQ(ReadFileOrEmpty(secret), "secret\n");
}

TEST_F(FilesystemTest, RemoveTreeDoesNotFollowSymlinks) {
  WriteFileOrDie(root_ + "/tree/a/file", "x");
  ASSERT_EQ(symlink(outside_.c_str(), (root_ + "/tree/a/out").c_str()), 0);
  ASSERT_TRUE(fs_->RemoveTree("/tree").ok());
  EXPECT_EQ(StatPath(root_ + "/tree").st_ino, 0u);
  EXPECT_EQ(ReadFileOrEmpty(outside_ + "/secret"), "secret\n");
}

TEST_F(FilesystemTest, MakeSymlinkReplacesAtomicallyAndRefusesDirectories) {
  ASSERT_TRUE(fs_->MakeSymlink("/l", "one").ok());
  ASSERT_TRUE(fs_->MakeSymlink("/l", "two").ok());
  EXPECT_EQ(*fs_->ReadLink("/l"), "two");
  mkdir((root_ + "/d").c_str(), 0755);
  EXPECT_FALSE(fs_->MakeSymlink("/d", "x").ok());
}

TEST_F(FilesystemTest, MakeDirectorySetsModeDespiteUmask) {
  mode_t old = umask(077);
  FileMetadata meta;
  meta.mode = 0750;
  absl::Status status = fs_->MakeDirectory("/var/lib/app", meta);
  umask(old);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(StatPath(root_ + "/var/lib/app").st_mode & 07777, 0750u);
  EXPECT_EQ(StatPath(root_ + "/var/lib").st_mode & 07777, 0755u);
}

TEST_F(FilesystemTest, OwnershipByNumber) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root";
  FileMetadata meta;
  meta.uid = 1234;
  meta.gid = 4321;
  ASSERT_TRUE(fs_->WriteFile("/owned", "x", meta).ok());
  struct stat st = StatPath(root_ + "/owned");
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 4321u);
}

TEST_F(FilesystemTest, LookupUsersAndGroups) {
  EXPECT_EQ(*fs_->LookupUser("root"), 0u);
  EXPECT_EQ(*fs_->LookupUser("1234"), 1234u);
  EXPECT_EQ(*fs_->LookupGroup("root"), 0u);
  EXPECT_TRUE(absl::IsNotFound(fs_->LookupUser("no-such-user-plumb").status()));
}

TEST_F(FilesystemTest, HostPathStaysInsideRoot) {
  mkdir((root_ + "/work").c_str(), 0755);
  absl::StatusOr<std::string> host = fs_->HostPath("/work");
  ASSERT_TRUE(host.ok()) << host.status();
  EXPECT_EQ(StatPath(*host).st_ino, StatPath(root_ + "/work").st_ino);
  ASSERT_EQ(symlink(outside_.c_str(), (root_ + "/out").c_str()), 0);
  EXPECT_TRUE(absl::IsPermissionDenied(fs_->HostPath("/out").status()));
}

TEST(ParseModeTest, AcceptsOctalAndRejectsOthers) {
  EXPECT_EQ(*ParseMode("0644"), 0644u);
  EXPECT_EQ(*ParseMode("2755"), 02755u);
  EXPECT_EQ(*ParseMode("600"), 0600u);
  EXPECT_FALSE(ParseMode("0o644").ok());
  EXPECT_FALSE(ParseMode("0999").ok());
  EXPECT_FALSE(ParseMode("").ok());
  EXPECT_FALSE(ParseMode("17777").ok());
  EXPECT_EQ(FormatMode(0644), "0644");
}

}  // namespace
}  // namespace plumb
