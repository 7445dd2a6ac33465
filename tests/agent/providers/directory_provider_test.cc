#include "agent/providers/directory_provider.h"

#include <sys/stat.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/agent_test_fakes.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::plumb::testing::MakeResource;
using ::plumb::testing::ReadFileOrEmpty;
using ::plumb::testing::StatPath;
using ::plumb::testing::TempDir;
using ::plumb::testing::WriteFileOrDie;
using ::testing::HasSubstr;

class DirectoryProviderTest : public ::testing::Test {
 protected:
  DirectoryProviderTest() : fs_(NewRootedFilesystem(dir_.path())), provider_(fs_.get()) {}

  absl::StatusOr<CheckResult> Converge(const v1::Resource& r) {
    return testing::Converge(provider_, r);
  }
  std::string Host(const std::string& path) { return dir_.path() + path; }

  TempDir dir_;
  std::unique_ptr<Filesystem> fs_;
  DirectoryProvider provider_;
};

TEST_F(DirectoryProviderTest, CreatesWithModeThenIsInSync) {
  v1::Resource r = MakeResource("directory", "/srv/app/data", {{"mode", "0750"}});
  absl::StatusOr<CheckResult> first = Converge(r);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->in_sync);
  EXPECT_TRUE(S_ISDIR(StatPath(Host("/srv/app/data")).st_mode));
  EXPECT_EQ(StatPath(Host("/srv/app/data")).st_mode & 07777, 0750u);
  struct stat before = StatPath(Host("/srv/app/data"));
  absl::StatusOr<CheckResult> second = provider_.Check(r);
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->in_sync) << second->message;
  EXPECT_EQ(StatPath(Host("/srv/app/data")).st_ctim.tv_nsec, before.st_ctim.tv_nsec);
}

TEST_F(DirectoryProviderTest, FixesModeOfExistingDirectory) {
  mkdir(Host("/d").c_str(), 0700);
  chmod(Host("/d").c_str(), 0700);
  absl::StatusOr<CheckResult> check = Converge(MakeResource("directory", "/d", {{"mode", "0755"}}));
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->message, "mode 0700 -> 0755");
  EXPECT_EQ(StatPath(Host("/d")).st_mode & 07777, 0755u);
}

TEST_F(DirectoryProviderTest, RefusesFileInTheWayUnlessForced) {
  WriteFileOrDie(Host("/d"), "file");
  EXPECT_FALSE(Converge(MakeResource("directory", "/d")).ok());
  EXPECT_EQ(ReadFileOrEmpty(Host("/d")), "file");
  ASSERT_TRUE(Converge(MakeResource("directory", "/d", {{"force", "true"}})).ok());
  EXPECT_TRUE(S_ISDIR(StatPath(Host("/d")).st_mode));
}

TEST_F(DirectoryProviderTest, AbsentRemovesEmptyAndNeedsForceForContents) {
  WriteFileOrDie(Host("/d/inner"), "x");
  absl::StatusOr<CheckResult> refused =
      Converge(MakeResource("directory", "/d", {{"ensure", "absent"}}));
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("force"));
  ASSERT_TRUE(
      Converge(MakeResource("directory", "/d", {{"ensure", "absent"}, {"force", "true"}})).ok());
  EXPECT_EQ(StatPath(Host("/d")).st_ino, 0u);
}

TEST_F(DirectoryProviderTest, NoopCheckTouchesNothing) {
  absl::StatusOr<CheckResult> check = provider_.Check(MakeResource("directory", "/new/dir"));
  ASSERT_TRUE(check.ok());
  EXPECT_FALSE(check->in_sync);
  EXPECT_EQ(StatPath(Host("/new")).st_ino, 0u);
}

}  // namespace
}  // namespace plumb
