// The engine's batched durability: every file a run writes is synced before it is renamed into
// place, with one sync for the lot, and nothing is reported or run after it before that.

#include <sys/stat.h>

#include <cerrno>

#include "agent/engine/apply_engine.h"
#include "agent/host/filesystem.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/agent_test_fakes.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::plumb::testing::MakeResource;
using ::plumb::testing::ManualClock;
using ::plumb::testing::MapBlobSource;
using ::plumb::testing::ReadFileOrEmpty;
using ::plumb::testing::RecordingSyncCalls;
using ::plumb::testing::TempDir;
using ::plumb::testing::WriteFileOrDie;
using ::testing::HasSubstr;

// Runs commands by calling `on_run` (which may look at the disk), exit 0.
class HookCommandRunner : public CommandRunner {
 public:
  absl::StatusOr<CommandResult> Run(const Command& command) override {
    if (on_run) on_run();
    CommandResult ok;
    ok.exit_code = 0;
    return ok;
  }
  std::function<void()> on_run;
};

class ApplyBatchTest : public ::testing::Test {
 protected:
  ApplyBatchTest()
      : fs_(NewRootedFilesystem(dir_.path(), &sync_)),
        engine_(fs_.get(), dir_.path(), &blobs_, &runner_, &clock_) {
    catalog_.set_revision("rev1");
  }
  v1::Resource* Add(const std::string& type, const std::string& name,
                    std::map<std::string, std::string> attributes = {}) {
    v1::Resource* r = catalog_.add_resources();
    *r = MakeResource(type, name, attributes);
    return r;
  }
  v1::Resource* AddFile(const std::string& path, const std::string& content) {
    v1::Resource* r = Add("file", path, {{"mode", "0644"}});
    r->set_content_digest(blobs_.Put(content));
    return r;
  }
  v1::Report Run() {
    SealCatalog(&catalog_);
    return engine_.Run(catalog_, RunOptions());
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
  HookCommandRunner runner_;
  ManualClock clock_;
  RecordingSyncCalls sync_;
  std::unique_ptr<Filesystem> fs_;
  ApplyEngine engine_;
  v1::Catalog catalog_;
};

TEST_F(ApplyBatchTest, OneSyncBeforeTheRenamesThenEachDirectoryOnce) {
  Add("directory", "/srv");
  for (int i = 0; i < 20; ++i) AddFile(absl::StrCat("/srv/f", i), absl::StrCat("content ", i));
  std::string at_sync = "not synced";
  sync_.before_filesystem_sync = [&] { at_sync = ReadFileOrEmpty(Host("/srv/f7")); };
  sync_.file_syncs = 0;
  v1::Report report = Run();
  EXPECT_EQ(at_sync, "<missing>");  // not renamed into place before the sync
  EXPECT_EQ(sync_.filesystem_syncs, 1);
  EXPECT_EQ(sync_.file_syncs, 2);  // the directory resource's parent, then /srv once
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(Find(report, absl::StrCat("file:/srv/f", i)).outcome(), v1::CHANGED);
    EXPECT_EQ(ReadFileOrEmpty(Host(absl::StrCat("/srv/f", i))), absl::StrCat("content ", i));
  }
}

TEST_F(ApplyBatchTest, FileThatCouldNotBeSyncedFailsKeepsOldContentAndSkipsDependents) {
  WriteFileOrDie(Host("/app.conf"), "old");
  AddFile("/app.conf", "new");
  Add("exec", "reload", {{"command", "reload-app"}})->add_require("file:/app.conf");
  sync_.fail_filesystem_sync = EIO;
  v1::Report report = Run();
  const v1::ResourceResult& file = Find(report, "file:/app.conf");
  EXPECT_EQ(file.outcome(), v1::FAILED);
  EXPECT_THAT(file.message(), HasSubstr("not put in place"));
  EXPECT_EQ(ReadFileOrEmpty(Host("/app.conf")), "old");
  EXPECT_EQ(Find(report, "exec:reload").outcome(), v1::SKIPPED);
}

TEST_F(ApplyBatchTest, CommandsRunOnlyAfterTheFilesBeforeThemAreInPlace) {
  AddFile("/app.conf", "v1");
  Add("exec", "reload", {{"command", "reload-app"}});
  std::string seen = "not run";
  runner_.on_run = [&] { seen = ReadFileOrEmpty(Host("/app.conf")); };
  v1::Report report = Run();
  EXPECT_EQ(Find(report, "exec:reload").outcome(), v1::CHANGED);
  EXPECT_EQ(seen, "v1");
}

TEST_F(ApplyBatchTest, NoopStagesAndSyncsNothing) {
  AddFile("/a", "a");
  SealCatalog(&catalog_);
  RunOptions options;
  options.noop = true;
  engine_.Run(catalog_, options);
  EXPECT_EQ(sync_.filesystem_syncs + sync_.file_syncs, 0);
  EXPECT_EQ(ReadFileOrEmpty(Host("/a")), "<missing>");
}

}  // namespace
}  // namespace plumb
