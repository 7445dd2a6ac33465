// DriftWatch against a real inotify instance in a temp dir: a change to a managed name asks for
// a repair; the watch follows the catalog it was last given.

#include "agent/engine/drift_watch.h"

#include <atomic>

#include "gtest/gtest.h"
#include "tests/testing/test_util.h"
#include "tests/testing/wait_for.h"

namespace plumb {
namespace {

using ::plumb::testing::TempDir;
using ::plumb::testing::WaitFor;
using ::plumb::testing::WriteFileOrDie;

v1::Catalog FilesIn(const std::string& dir, std::initializer_list<const char*> names) {
  v1::Catalog catalog;
  for (const char* name : names) {
    v1::Resource* r = catalog.add_resources();
    r->set_type("file");
    r->set_name(dir + "/" + name);
  }
  return catalog;
}

TEST(DriftWatchTest, AnEditOfAnyManagedNameInADirectoryAsksForARepair) {
  TempDir root;
  for (const char* name : {"b.conf", "a.conf", "c.conf", "b.conf.d"}) {
    WriteFileOrDie(root.Sub(std::string("etc/") + name), "x");
  }
  std::atomic<int> repairs{0};
  DriftWatch watch(root.path(), [&] { ++repairs; }, absl::Milliseconds(1), absl::Seconds(1));
  ASSERT_TRUE(watch.Start().ok());
  // Out of order and repeated: every managed name must still be found.
  watch.Watch(FilesIn("/etc", {"c.conf", "a.conf", "b.conf", "a.conf"}));
  for (const char* name : {"a.conf", "b.conf", "c.conf"}) {
    int before = repairs.load();
    WriteFileOrDie(root.Sub(std::string("etc/") + name), "edited by hand");
    EXPECT_TRUE(WaitFor([&] { return repairs.load() > before; })) << name;
  }
  // The next catalog replaces the watched set: its new directory is watched.
  WriteFileOrDie(root.Sub("srv/motd"), "x");
  watch.Watch(FilesIn("/srv", {"motd"}));
  watch.DiscardPending();
  int before = repairs.load();
  WriteFileOrDie(root.Sub("srv/motd"), "edited");
  EXPECT_TRUE(WaitFor([&] { return repairs.load() > before; }));
  watch.Stop();
}

}  // namespace
}  // namespace plumb
