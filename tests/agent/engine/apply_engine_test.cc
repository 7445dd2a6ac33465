#include "agent/engine/apply_engine.h"

#include <sys/stat.h>

#include <algorithm>

#include "agent/host/filesystem.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/agent_test_fakes.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using FakeClock = ::plumb::testing::ManualClock;
using ::plumb::testing::MakeResource;
using ::plumb::testing::MapBlobSource;
using ::plumb::testing::ReadFileOrEmpty;
using ::plumb::testing::ScriptedCommandRunner;
using ::plumb::testing::SetList;
using ::plumb::testing::StatPath;
using ::plumb::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

class ApplyEngineTest : public ::testing::Test {
 protected:
  ApplyEngineTest()
      : fs_(NewRootedFilesystem(dir_.path())),
        engine_(fs_.get(), dir_.path(), &blobs_, &runner_, &clock_) {
    catalog_.set_revision("rev1");
  }

  v1::Resource* AddFile(const std::string& path, const std::string& content) {
    v1::Resource* r = catalog_.add_resources();
    *r = MakeResource("file", path, {{"mode", "0644"}});
    r->set_content_digest(blobs_.Put(content));
    return r;
  }
  v1::Resource* Add(const std::string& type, const std::string& name,
                    std::map<std::string, std::string> attributes = {}) {
    v1::Resource* r = catalog_.add_resources();
    *r = MakeResource(type, name, attributes);
    return r;
  }
  v1::Report Run(bool noop = false) {
    SealCatalog(&catalog_);
    RunOptions options;
    options.noop = noop;
    return engine_.Run(catalog_, options);
  }
  static std::vector<std::string> Ids(const v1::Report& report) {
    std::vector<std::string> ids;
    for (const auto& r : report.results()) ids.push_back(r.id());
    return ids;
  }
  static const v1::ResourceResult& Find(const v1::Report& report, const std::string& id) {
    for (const auto& r : report.results()) {
      if (r.id() == id) return r;
    }
    static v1::ResourceResult missing;
    ADD_FAILURE() << "no result for " << id;
    return missing;
  }
  std::string Host(const std::string& path) { return dir_.path() + path; }

  TempDir dir_;
  MapBlobSource blobs_;
  ScriptedCommandRunner runner_;
  FakeClock clock_;
  std::unique_ptr<Filesystem> fs_;
  ApplyEngine engine_;
  v1::Catalog catalog_;
};

TEST_F(ApplyEngineTest, ConvergesThenReportsNothingChanged) {
  AddFile("/etc/motd", "hello\n");
  Add("directory", "/srv/data", {{"mode", "0750"}});
  Add("symlink", "/etc/motd.link", {{"target", "motd"}});
  v1::Report first = Run();
  EXPECT_EQ(first.revision(), "rev1");
  EXPECT_EQ(first.catalog_digest(), catalog_.digest());
  EXPECT_EQ(first.trigger(), v1::CATALOG);
  EXPECT_FALSE(first.noop());
  EXPECT_EQ(first.started_unix_ms(), 1700000000000);
  ASSERT_THAT(first.results(), SizeIs(3));
  for (const auto& r : first.results()) EXPECT_EQ(r.outcome(), v1::CHANGED) << r.message();
  EXPECT_THAT(Find(first, "file:/etc/motd").diff(), HasSubstr("+hello"));
  EXPECT_EQ(ReadFileOrEmpty(Host("/etc/motd")), "hello\n");

  v1::Report second = Run();
  for (const auto& r : second.results()) EXPECT_EQ(r.outcome(), v1::UNCHANGED) << r.id();
}

TEST_F(ApplyEngineTest, TopologicalOrderKeepsCatalogOrderAmongIndependents) {
  AddFile("/b", "b")->add_require("file:/a");
  AddFile("/c", "c");
  AddFile("/a", "a");
  AddFile("/d", "d")->add_before("file:/c");
  v1::Report report = Run();
  EXPECT_THAT(Ids(report), ElementsAre("file:/a", "file:/b", "file:/d", "file:/c"));
}

TEST_F(ApplyEngineTest, FailureSkipsDependentsTransitivelyAndOthersStillApply) {
  runner_.On("/bin/sh -c broken", 3, "", "boom");
  Add("exec", "setup", {{"command", "broken"}});
  AddFile("/needs-setup", "x")->add_require("exec:setup");
  AddFile("/needs-needs", "y")->add_require("file:/needs-setup");
  AddFile("/independent", "z");
  v1::Report report = Run();
  const auto& failed = Find(report, "exec:setup");
  EXPECT_EQ(failed.outcome(), v1::FAILED);
  EXPECT_THAT(failed.message(), HasSubstr("exit 3"));
  EXPECT_THAT(failed.message(), HasSubstr("boom"));
  EXPECT_EQ(Find(report, "file:/needs-setup").outcome(), v1::SKIPPED);
  EXPECT_THAT(Find(report, "file:/needs-setup").message(), HasSubstr("exec:setup failed"));
  EXPECT_EQ(Find(report, "file:/needs-needs").outcome(), v1::SKIPPED);
  EXPECT_THAT(Find(report, "file:/needs-needs").message(), HasSubstr("exec:setup failed"));
  EXPECT_EQ(Find(report, "file:/independent").outcome(), v1::CHANGED);
  EXPECT_EQ(ReadFileOrEmpty(Host("/needs-setup")), "<missing>");
  EXPECT_EQ(ReadFileOrEmpty(Host("/independent")), "z");
}

TEST_F(ApplyEngineTest, NotifyRestartsServiceOnlyWhenSourceChanged) {
  AddFile("/etc/nginx.conf", "v1")->add_notify("service:nginx");
  Add("service", "nginx", {{"ensure", "running"}});
  v1::Report first = Run();
  EXPECT_EQ(Find(first, "service:nginx").outcome(), v1::CHANGED);
  EXPECT_THAT(Find(first, "service:nginx").message(),
              HasSubstr("notified by file:/etc/nginx.conf"));
  EXPECT_THAT(runner_.CallsStartingWith("systemctl restart"), SizeIs(1));

  v1::Report second = Run();
  EXPECT_EQ(Find(second, "service:nginx").outcome(), v1::UNCHANGED);
  EXPECT_THAT(runner_.CallsStartingWith("systemctl restart"), SizeIs(1));
}

// A drop-in for the unit (a new drop-in directory: systemd 252 does not flag it with
// NeedDaemonReload) changed in the run: systemd reloads its units before the restart it
// notifies, once; a run where only other files change reloads nothing.
TEST_F(ApplyEngineTest, ChangedUnitFileIsReloadedBeforeTheNotifiedRestart) {
  AddFile("/etc/systemd/system/nginx.service.d/plumb.conf", "[Service]\n")
      ->add_notify("service:nginx");
  AddFile("/etc/nginx.conf", "v1")->add_notify("service:nginx");
  Add("service", "nginx", {{"ensure", "running"}});
  Run();
  std::vector<std::string> calls = runner_.CallsStartingWith("systemctl");
  auto reload = std::find(calls.begin(), calls.end(), "systemctl daemon-reload");
  auto restart = std::find(calls.begin(), calls.end(), "systemctl restart -- nginx");
  ASSERT_NE(reload, calls.end()) << ::testing::PrintToString(calls);
  EXPECT_LT(reload, restart);
  EXPECT_THAT(runner_.CallsStartingWith("systemctl daemon-reload"), SizeIs(1));

  catalog_.clear_resources();
  AddFile("/etc/systemd/system/nginx.service.d/plumb.conf", "[Service]\n")
      ->add_notify("service:nginx");
  AddFile("/etc/nginx.conf", "v2")->add_notify("service:nginx");
  Add("service", "nginx", {{"ensure", "running"}});
  Run();
  EXPECT_THAT(runner_.CallsStartingWith("systemctl restart"), SizeIs(2));
  EXPECT_THAT(runner_.CallsStartingWith("systemctl daemon-reload"), SizeIs(1));
}

TEST_F(ApplyEngineTest, NotifiedServiceThatWasJustStartedIsNotRestarted) {
  runner_.On("systemctl is-active", 3, "inactive\n");
  AddFile("/etc/app.conf", "v1")->add_notify("service:app");
  Add("service", "app", {{"ensure", "running"}});
  v1::Report report = Run();
  EXPECT_EQ(Find(report, "service:app").outcome(), v1::CHANGED);
  EXPECT_THAT(runner_.CallsStartingWith("systemctl start"), SizeIs(1));
  EXPECT_THAT(runner_.CallsStartingWith("systemctl restart"), IsEmpty());
}

TEST_F(ApplyEngineTest, SubscribedRefreshOnlyExecRunsOnlyOnChange) {
  AddFile("/etc/app.conf", "v1");
  v1::Resource* exec = Add("exec", "reload", {{"command", "reload-app"}, {"refreshonly", "true"}});
  exec->add_subscribe("file:/etc/app.conf");
  v1::Report first = Run();
  EXPECT_EQ(Find(first, "exec:reload").outcome(), v1::CHANGED);
  EXPECT_THAT(runner_.CallsStartingWith("/bin/sh -c reload-app"), SizeIs(1));
  v1::Report second = Run();
  EXPECT_EQ(Find(second, "exec:reload").outcome(), v1::UNCHANGED);
  EXPECT_THAT(runner_.CallsStartingWith("/bin/sh -c reload-app"), SizeIs(1));
}

TEST_F(ApplyEngineTest, NoopTouchesNothingAndSaysWhatWouldChange) {
  AddFile("/etc/motd", "hello\n")->add_notify("service:motd");
  Add("directory", "/srv/data");
  Add("symlink", "/l", {{"target", "x"}});
  Add("exec", "make-it", {{"command", "touch /made"}});
  Add("service", "motd", {{"ensure", "running"}});
  v1::Report report = Run(/*noop=*/true);
  EXPECT_TRUE(report.noop());
  for (const auto& r : report.results()) EXPECT_EQ(r.outcome(), v1::WOULD_CHANGE) << r.id();
  EXPECT_THAT(Find(report, "file:/etc/motd").diff(), HasSubstr("+hello"));
  EXPECT_THAT(Find(report, "service:motd").message(), HasSubstr("would refresh"));
  std::string listing;
  plumb::testing::RunShell("ls -A " + dir_.path(), &listing);
  EXPECT_EQ(listing, "");
  EXPECT_THAT(runner_.CallsStartingWith("/bin/sh"), IsEmpty());
  EXPECT_THAT(runner_.CallsStartingWith("systemctl restart"), IsEmpty());
  EXPECT_THAT(runner_.CallsStartingWith("systemctl start"), IsEmpty());
}

TEST_F(ApplyEngineTest, NoopOnConvergedHostIsAllUnchanged) {
  AddFile("/etc/motd", "hello\n");
  Run();
  struct stat before = StatPath(Host("/etc/motd"));
  v1::Report report = Run(/*noop=*/true);
  EXPECT_EQ(Find(report, "file:/etc/motd").outcome(), v1::UNCHANGED);
  EXPECT_EQ(StatPath(Host("/etc/motd")).st_ino, before.st_ino);
}

TEST_F(ApplyEngineTest, SensitiveFileNeverHasADiff) {
  v1::Resource* r = AddFile("/etc/secret", "password\n");
  r->set_sensitive(true);
  v1::Report report = Run(/*noop=*/true);
  EXPECT_EQ(Find(report, "file:/etc/secret").outcome(), v1::WOULD_CHANGE);
  EXPECT_THAT(Find(report, "file:/etc/secret").diff(), IsEmpty());
  EXPECT_THAT(report.DebugString(), ::testing::Not(HasSubstr("password")));
}

TEST_F(ApplyEngineTest, BadGraphsFailTheResourcesInvolved) {
  AddFile("/x", "x")->add_require("file:/missing");
  AddFile("/c1", "1")->add_require("file:/c2");
  AddFile("/c2", "2")->add_require("file:/c1");
  Add("gadget", "thing");
  AddFile("/fine", "ok");
  v1::Report report = Run();
  EXPECT_EQ(Find(report, "file:/x").outcome(), v1::FAILED);
  EXPECT_THAT(Find(report, "file:/x").message(), HasSubstr("unknown resource file:/missing"));
  EXPECT_EQ(Find(report, "file:/c1").outcome(), v1::FAILED);
  EXPECT_THAT(Find(report, "file:/c1").message(), HasSubstr("cycle"));
  EXPECT_EQ(Find(report, "gadget:thing").outcome(), v1::FAILED);
  EXPECT_EQ(Find(report, "file:/fine").outcome(), v1::CHANGED);
}

TEST_F(ApplyEngineTest, RootEscapeIsAFailedResource) {
  TempDir outside;
  ASSERT_EQ(symlink(outside.path().c_str(), Host("/etc").c_str()), 0);
  AddFile("/etc/passwd", "evil");
  v1::Report report = Run();
  EXPECT_EQ(Find(report, "file:/etc/passwd").outcome(), v1::FAILED);
  EXPECT_THAT(Find(report, "file:/etc/passwd").message(), HasSubstr("outside root"));
  EXPECT_EQ(ReadFileOrEmpty(outside.Sub("passwd")), "<missing>");
}

TEST_F(ApplyEngineTest, DurationsComeFromTheClock) {
  AddFile("/a", "a");
  v1::Report report = Run();
  EXPECT_EQ(report.duration_us(), 0);  // the fake clock did not move
  EXPECT_EQ(report.results(0).duration_us(), 0);
}

}  // namespace
}  // namespace plumb
