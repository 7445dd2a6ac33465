#include "agent/providers/exec_provider.h"

#include <chrono>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/agent_test_fakes.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::plumb::testing::MakeResource;
using ::testing::Not;
using ::plumb::testing::ReadFileOrEmpty;
using ::plumb::testing::SetList;
using ::plumb::testing::TempDir;
using ::plumb::testing::WriteFileOrDie;
using ::testing::HasSubstr;

// Exec resources run by the real /bin/sh, with the temp dir as root.
class ExecProviderTest : public ::testing::Test {
 protected:
  ExecProviderTest()
      : fs_(NewRootedFilesystem(dir_.path())),
        runner_(NewRealCommandRunner()),
        provider_(fs_.get(), runner_.get(), dir_.path()) {}

  v1::Resource Exec(const std::string& command, std::map<std::string, std::string> attrs = {}) {
    attrs["command"] = command;
    return MakeResource("exec", "test", attrs);
  }
  // Check, then apply when out of sync; the apply status (OK if nothing ran).
  absl::StatusOr<ChangeResult> Converge(const v1::Resource& r) {
    absl::StatusOr<CheckResult> check = provider_.Check(r);
    if (!check.ok()) return check.status();
    if (check->in_sync) return ChangeResult{false, ""};
    return provider_.Apply(r, *check);
  }
  std::string Host(const std::string& path) { return dir_.path() + path; }

  TempDir dir_;
  std::unique_ptr<Filesystem> fs_;
  std::unique_ptr<CommandRunner> runner_;
  ExecProvider provider_;
};

TEST_F(ExecProviderTest, RunsShellStringInRootWithOutputInMessage) {
  absl::StatusOr<ChangeResult> result =
      Converge(Exec("echo made > \"$PLUMB_ROOT/out\"; echo visible; pwd"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->changed);
  EXPECT_THAT(result->message, HasSubstr("visible"));
  EXPECT_THAT(result->message, HasSubstr(dir_.path()));  // default cwd is the root
  EXPECT_EQ(ReadFileOrEmpty(Host("/out")), "made\n");
}

TEST_F(ExecProviderTest, ArgvListCwdAndEnv) {
  v1::Resource r = MakeResource("exec", "argv", {{"cwd", "/work"}});
  SetList(&r, "command", {"/bin/sh", "-c", "echo \"$GREETING\" > greeting"});
  (*(*r.mutable_attributes())["env"].mutable_map()->mutable_entries())["GREETING"] = "hi there";
  WriteFileOrDie(Host("/work/.keep"), "");
  ASSERT_TRUE(Converge(r).ok());
  EXPECT_EQ(ReadFileOrEmpty(Host("/work/greeting")), "hi there\n");
}

TEST_F(ExecProviderTest, FailureCarriesExitAndStderr) {
  absl::StatusOr<ChangeResult> result = Converge(Exec("echo bad thing >&2; exit 4"));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("exit 4"));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("bad thing"));
}

TEST_F(ExecProviderTest, SensitiveExecShowsNeitherCommandNorOutput) {
  v1::Resource ok = Exec("echo pass=hunter2-ok", {});
  ok.set_sensitive(true);
  absl::StatusOr<CheckResult> check = provider_.Check(ok);
  ASSERT_TRUE(check.ok());
  EXPECT_THAT(check->message, Not(HasSubstr("hunter2")));
  absl::StatusOr<ChangeResult> ran = Converge(ok);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_THAT(ran->message, Not(HasSubstr("hunter2")));

  v1::Resource bad = Exec("echo pass=hunter2-out; echo pass=hunter2-err >&2; exit 4", {});
  bad.set_sensitive(true);
  absl::StatusOr<ChangeResult> failed = Converge(bad);
  ASSERT_FALSE(failed.ok());
  std::string message(failed.status().message());
  EXPECT_THAT(message, HasSubstr("exit 4"));
  EXPECT_THAT(message, Not(HasSubstr("hunter2")));
}

TEST_F(ExecProviderTest, CreatesGuardSkipsOnceThePathExists) {
  v1::Resource r =
      Exec("echo x >> \"$PLUMB_ROOT/log\"; touch \"$PLUMB_ROOT/done\"", {{"creates", "/done"}});
  ASSERT_TRUE(Converge(r).ok());
  ASSERT_TRUE(Converge(r).ok());
  EXPECT_EQ(ReadFileOrEmpty(Host("/log")), "x\n");
  EXPECT_TRUE(provider_.Check(r)->in_sync);
}

TEST_F(ExecProviderTest, OnlyifAndUnlessGuards) {
  WriteFileOrDie(Host("/flag"), "");
  EXPECT_FALSE(
      provider_.Check(Exec("true", {{"onlyif", "test -e \"$PLUMB_ROOT/flag\""}}))->in_sync);
  EXPECT_TRUE(provider_.Check(Exec("true", {{"onlyif", "test -e \"$PLUMB_ROOT/nope\""}}))->in_sync);
  EXPECT_TRUE(provider_.Check(Exec("true", {{"unless", "test -e \"$PLUMB_ROOT/flag\""}}))->in_sync);
  EXPECT_FALSE(
      provider_.Check(Exec("true", {{"unless", "test -e \"$PLUMB_ROOT/nope\""}}))->in_sync);
}

TEST_F(ExecProviderTest, TimeoutKillsAndFails) {
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<ChangeResult> result = Converge(Exec("sleep 30", {{"timeout", "0.3s"}}));
  EXPECT_TRUE(absl::IsDeadlineExceeded(result.status())) << result.status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(ExecProviderTest, RefreshOnlyRunsOnlyOnRefresh) {
  v1::Resource r = Exec("echo ran >> \"$PLUMB_ROOT/log\"", {{"refreshonly", "true"}});
  ASSERT_TRUE(Converge(r).ok());
  EXPECT_EQ(ReadFileOrEmpty(Host("/log")), "<missing>");
  absl::StatusOr<ChangeResult> refreshed = provider_.Refresh(r);
  ASSERT_TRUE(refreshed.ok());
  EXPECT_TRUE(refreshed->changed);
  EXPECT_EQ(ReadFileOrEmpty(Host("/log")), "ran\n");
}

TEST_F(ExecProviderTest, BadAttributesAreErrors) {
  EXPECT_FALSE(provider_.Check(Exec("true", {{"timeout", "soon"}})).ok());
  EXPECT_FALSE(provider_.Check(Exec("true", {{"refreshonly", "maybe"}})).ok());
  EXPECT_FALSE(provider_.Check(Exec("true", {{"cwd", "/does/not/exist"}})).ok());
}

TEST(ParseTimeoutTest, SecondsAndDurations) {
  EXPECT_EQ(*ParseTimeout("30"), absl::Seconds(30));
  EXPECT_EQ(*ParseTimeout("5m"), absl::Minutes(5));
  EXPECT_EQ(*ParseTimeout("0"), absl::InfiniteDuration());
  EXPECT_FALSE(ParseTimeout("-3").ok());
}

}  // namespace
}  // namespace plumb
