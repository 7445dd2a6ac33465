#include "agent/providers/service_provider.h"

#include <stdlib.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/agent_test_fakes.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::plumb::testing::MakeResource;
using ::plumb::testing::ReadFileOrEmpty;
using ::plumb::testing::TempDir;
using ::plumb::testing::WriteFileOrDie;
using ::testing::HasSubstr;

// A fake `systemctl` first on PATH: it logs its arguments and keeps unit state in files
// (<dir>/state/<unit>.active, <unit>.enabled), run through the real command runner.
class ServiceProviderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* path = getenv("PATH");
    old_path_ = path ? path : "";
    WriteFileOrDie(dir_.Sub("bin/systemctl"), R"(#!/bin/sh
state=")" + dir_.Sub("state") + R"("
echo "$*" >> ")" + dir_.Sub("calls") + R"("
verb=$1; [ "$2" = "--" ] && shift; unit=$2
for last; do :; done
case $verb in
  show) if [ -e "$state/$last.changed" ]; then echo LoadState=loaded; echo NeedDaemonReload=yes
        else echo LoadState=loaded; echo NeedDaemonReload=no; fi ;;
  daemon-reload) rm -f "$state"/*.changed ;;
  is-active) if [ -e "$state/$unit.active" ]; then echo active; exit 0; else echo inactive; exit 3; fi ;;
  is-enabled) if [ -e "$state/$unit.enabled" ]; then echo enabled; exit 0; else echo disabled; exit 1; fi ;;
  start|restart) [ "$unit" = broken ] && { echo "Job for broken.service failed." >&2; exit 1; }
         [ -e "$state/$unit.changed" ] && echo "$unit started from a stale unit definition" >> "$state/stale"
         touch "$state/$unit.active" ;;
  stop) rm -f "$state/$unit.active" ;;
  enable) touch "$state/$unit.enabled" ;;
  disable) rm -f "$state/$unit.enabled" ;;
esac
)");
    chmod(dir_.Sub("bin/systemctl").c_str(), 0755);
    plumb::testing::RunShell("mkdir -p " + dir_.Sub("state"));
    setenv("PATH", (dir_.Sub("bin") + ":" + old_path_).c_str(), 1);
  }
  void TearDown() override { setenv("PATH", old_path_.c_str(), 1); }

  absl::StatusOr<CheckResult> Converge(const v1::Resource& r) {
    return testing::Converge(provider_, r);
  }
  std::string Calls() { return ReadFileOrEmpty(dir_.Sub("calls")); }
  bool Exists(const std::string& name) {
    return ReadFileOrEmpty(dir_.Sub("state/" + name)) != "<missing>";
  }

  TempDir dir_;
  std::string old_path_;
  std::unique_ptr<CommandRunner> runner_ = NewRealCommandRunner();
  ServiceProvider provider_{runner_.get()};
};

TEST_F(ServiceProviderTest, StartsAndEnablesThenIsInSync) {
  v1::Resource r = MakeResource("service", "nginx", {{"ensure", "running"}, {"enabled", "true"}});
  absl::StatusOr<CheckResult> first = Converge(r);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->in_sync);
  EXPECT_TRUE(first->apply_refreshes);
  EXPECT_TRUE(Exists("nginx.active"));
  EXPECT_TRUE(Exists("nginx.enabled"));
  EXPECT_THAT(Calls(), HasSubstr("start -- nginx"));
  EXPECT_THAT(Calls(), HasSubstr("enable -- nginx"));
  EXPECT_TRUE(provider_.Check(r)->in_sync);
}

TEST_F(ServiceProviderTest, StopsAndDisables) {
  WriteFileOrDie(dir_.Sub("state/cron.active"), "");
  WriteFileOrDie(dir_.Sub("state/cron.enabled"), "");
  ASSERT_TRUE(
      Converge(MakeResource("service", "cron", {{"ensure", "stopped"}, {"enabled", "false"}}))
          .ok());
  EXPECT_FALSE(Exists("cron.active"));
  EXPECT_FALSE(Exists("cron.enabled"));
}

TEST_F(ServiceProviderTest, RefreshRestartsUnlessStopped) {
  WriteFileOrDie(dir_.Sub("state/web.active"), "");
  absl::StatusOr<ChangeResult> restarted =
      provider_.Refresh(MakeResource("service", "web", {{"ensure", "running"}}));
  ASSERT_TRUE(restarted.ok());
  EXPECT_TRUE(restarted->changed);
  EXPECT_THAT(Calls(), HasSubstr("restart -- web"));
  absl::StatusOr<ChangeResult> skipped =
      provider_.Refresh(MakeResource("service", "other", {{"ensure", "stopped"}}));
  ASSERT_TRUE(skipped.ok());
  EXPECT_FALSE(skipped->changed);
  EXPECT_THAT(Calls(), ::testing::Not(HasSubstr("restart -- other")));
}

// A unit file Plumb changed (it notifies the service): systemd is told to reload its unit
// definitions before the restart, so the new ExecStart= is the one run. Unchanged units are
// restarted without a daemon-reload.
TEST_F(ServiceProviderTest, ChangedUnitFileIsReloadedBeforeRestartOrStart) {
  WriteFileOrDie(dir_.Sub("state/web.active"), "");
  ASSERT_TRUE(provider_.Refresh(MakeResource("service", "web", {{"ensure", "running"}})).ok());
  EXPECT_THAT(Calls(), ::testing::Not(HasSubstr("daemon-reload")));

  WriteFileOrDie(dir_.Sub("state/web.changed"), "");
  absl::StatusOr<ChangeResult> restarted =
      provider_.Refresh(MakeResource("service", "web", {{"ensure", "running"}}));
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  EXPECT_THAT(Calls(), HasSubstr("daemon-reload\nrestart -- web\n"));

  WriteFileOrDie(dir_.Sub("state/new.changed"), "");
  ASSERT_TRUE(Converge(MakeResource("service", "new", {{"ensure", "running"}})).ok());
  EXPECT_THAT(Calls(), HasSubstr("daemon-reload\nstart -- new\n"));
  EXPECT_EQ(ReadFileOrEmpty(dir_.Sub("state/stale")), "<missing>");
}

// What systemd does not flag (a new drop-in directory): the engine tells the provider that a
// file under a unit directory changed, and the next restart reloads first, once.
TEST_F(ServiceProviderTest, ObservedUnitFileChangeReloadsBeforeTheNextRestartOnly) {
  WriteFileOrDie(dir_.Sub("state/web.active"), "");
  v1::Resource web = MakeResource("service", "web", {{"ensure", "running"}});
  provider_.ObserveChange(MakeResource("file", "/etc/nginx/nginx.conf"));
  provider_.ObserveChange(MakeResource("package", "/etc/systemd/system/odd-name"));
  ASSERT_TRUE(provider_.Refresh(web).ok());
  EXPECT_THAT(Calls(), ::testing::Not(HasSubstr("daemon-reload")));

  provider_.ObserveChange(MakeResource("file", "/etc/systemd/system/web.service.d/env.conf"));
  ASSERT_TRUE(provider_.Refresh(web).ok());
  ASSERT_TRUE(provider_.Refresh(web).ok());
  EXPECT_THAT(Calls(), HasSubstr("daemon-reload\nrestart -- web\n"));
  std::string calls = Calls();
  EXPECT_EQ(calls.find("daemon-reload"), calls.rfind("daemon-reload")) << calls;
}

TEST_F(ServiceProviderTest, FailedStartReportsSystemctlError) {
  absl::StatusOr<CheckResult> result =
      Converge(MakeResource("service", "broken", {{"ensure", "running"}}));
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("broken.service failed"));
}

TEST_F(ServiceProviderTest, CheckOnlyQueries) {
  ASSERT_TRUE(provider_.Check(MakeResource("service", "x", {{"ensure", "running"}})).ok());
  EXPECT_EQ(Calls(), "is-active -- x\n");
}

}  // namespace
}  // namespace plumb
