#include "agent/providers/symlink_provider.h"

#include <sys/stat.h>
#include <unistd.h>

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

class SymlinkProviderTest : public ::testing::Test {
 protected:
  SymlinkProviderTest() : fs_(NewRootedFilesystem(dir_.path())), provider_(fs_.get()) {}

  absl::StatusOr<CheckResult> Converge(const v1::Resource& r) {
    return testing::Converge(provider_, r);
  }
  std::string Host(const std::string& path) { return dir_.path() + path; }
  std::string LinkTarget(const std::string& path) {
    char buf[4096];
    ssize_t n = readlink(Host(path).c_str(), buf, sizeof(buf));
    return n < 0 ? "<none>" : std::string(buf, n);
  }

  TempDir dir_;
  std::unique_ptr<Filesystem> fs_;
  SymlinkProvider provider_;
};

TEST_F(SymlinkProviderTest, CreatesThenInSync) {
  v1::Resource r =
      MakeResource("symlink", "/etc/localtime", {{"target", "/usr/share/zoneinfo/UTC"}});
  ASSERT_TRUE(Converge(r).ok());
  EXPECT_EQ(LinkTarget("/etc/localtime"), "/usr/share/zoneinfo/UTC");
  EXPECT_TRUE(provider_.Check(r)->in_sync);
}

TEST_F(SymlinkProviderTest, ReplacesWrongTarget) {
  ASSERT_EQ(symlink("old", Host("/l").c_str()), 0);
  absl::StatusOr<CheckResult> check = Converge(MakeResource("symlink", "/l", {{"target", "new"}}));
  ASSERT_TRUE(check.ok());
  EXPECT_EQ(check->message, "target old -> new");
  EXPECT_EQ(LinkTarget("/l"), "new");
}

TEST_F(SymlinkProviderTest, ReplacesAFile) {
  WriteFileOrDie(Host("/l"), "x");
  ASSERT_TRUE(Converge(MakeResource("symlink", "/l", {{"target", "t"}})).ok());
  EXPECT_EQ(LinkTarget("/l"), "t");
}

TEST_F(SymlinkProviderTest, RefusesRealDirectoryUnlessForced) {
  WriteFileOrDie(Host("/d/keep"), "data");
  absl::StatusOr<CheckResult> refused = Converge(MakeResource("symlink", "/d", {{"target", "t"}}));
  EXPECT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("force"));
  EXPECT_EQ(ReadFileOrEmpty(Host("/d/keep")), "data");
  ASSERT_TRUE(Converge(MakeResource("symlink", "/d", {{"target", "t"}, {"force", "true"}})).ok());
  EXPECT_EQ(LinkTarget("/d"), "t");
}

TEST_F(SymlinkProviderTest, AbsentRemovesOnlySymlinks) {
  ASSERT_EQ(symlink("t", Host("/l").c_str()), 0);
  ASSERT_TRUE(Converge(MakeResource("symlink", "/l", {{"ensure", "absent"}})).ok());
  EXPECT_EQ(LinkTarget("/l"), "<none>");
  WriteFileOrDie(Host("/f"), "x");
  EXPECT_FALSE(Converge(MakeResource("symlink", "/f", {{"ensure", "absent"}})).ok());
  EXPECT_EQ(ReadFileOrEmpty(Host("/f")), "x");
}

TEST_F(SymlinkProviderTest, ParentSymlinkOutsideRootIsRefused) {
  TempDir outside;
  ASSERT_EQ(symlink(outside.path().c_str(), Host("/out").c_str()), 0);
  absl::StatusOr<CheckResult> check =
      provider_.Check(MakeResource("symlink", "/out/l", {{"target", "x"}}));
  EXPECT_TRUE(absl::IsPermissionDenied(check.status())) << check.status();
  EXPECT_TRUE(absl::IsPermissionDenied(fs_->MakeSymlink("/out/l", "x")));
  EXPECT_EQ(StatPath(outside.Sub("l")).st_ino, 0u);
}

}  // namespace
}  // namespace plumb
