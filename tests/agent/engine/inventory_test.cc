#include "agent/engine/inventory.h"

#include <sys/stat.h>

#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::TempDir;
using testing::WriteFileOrDie;

v1::Resource Res(const std::string& type, const std::string& path) {
  v1::Resource r;
  r.set_type(type);
  r.set_name(path);
  r.set_id(type + ":" + path);
  return r;
}

v1::Report Created(std::vector<std::string> ids) {
  v1::Report report;
  for (const auto& id : ids) {
    auto* r = report.add_results();
    r->set_id(id);
    r->set_outcome(v1::CHANGED);
    r->set_created(true);
  }
  return report;
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

class InventoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto inv = Inventory::Load(dir_.Sub("state/inventory.pb"));
    ASSERT_TRUE(inv.ok());
    inventory_ = std::make_unique<Inventory>(std::move(*inv));
    testing::RunShell("mkdir -p " + dir_.Sub("state") + " " + dir_.Sub("root"));
    fs_ = NewRootedFilesystem(dir_.Sub("root"));
  }
  TempDir dir_;
  std::unique_ptr<Inventory> inventory_;
  std::unique_ptr<Filesystem> fs_;
};

TEST_F(InventoryTest, PruneRemovesOnlyWhatPlumbCreated) {
  v1::Catalog catalog;
  *catalog.add_resources() = Res("directory", "/app");
  *catalog.add_resources() = Res("file", "/app/ours");
  *catalog.add_resources() = Res("file", "/app/preexisting");
  WriteFileOrDie(dir_.Sub("root/app/ours"), "x");
  WriteFileOrDie(dir_.Sub("root/app/preexisting"), "y");
  // The pre-existing file was only modified, not created: not in the inventory.
  inventory_->RecordCreated(catalog, Created({"directory:/app", "file:/app/ours"}));
  ASSERT_TRUE(inventory_->Save().ok());

  auto reloaded = Inventory::Load(dir_.Sub("state/inventory.pb"));
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ(reloaded->size(), 2);

  v1::Catalog empty;
  v1::Report report;
  HandleOrphans(fs_.get(), /*prune=*/true, /*noop=*/false, &*reloaded, reloaded->Orphans(empty),
                &report);
  EXPECT_FALSE(Exists(dir_.Sub("root/app/ours")));
  EXPECT_TRUE(Exists(dir_.Sub("root/app/preexisting")));
  // The directory still holds a file Plumb did not create: kept, released.
  EXPECT_TRUE(Exists(dir_.Sub("root/app")));
  ASSERT_EQ(report.results_size(), 2);
  EXPECT_EQ(report.results(0).id(), "file:/app/ours");
  EXPECT_EQ(report.results(0).outcome(), v1::CHANGED);
  EXPECT_EQ(report.results(1).id(), "directory:/app");
  EXPECT_EQ(report.results(1).outcome(), v1::SKIPPED);
  EXPECT_EQ(reloaded->size(), 0);
}

TEST_F(InventoryTest, WithoutPruneOrphansAreReleasedAndLeftInPlace) {
  v1::Catalog catalog;
  *catalog.add_resources() = Res("file", "/a");
  WriteFileOrDie(dir_.Sub("root/a"), "x");
  inventory_->RecordCreated(catalog, Created({"file:/a"}));
  v1::Report report;
  HandleOrphans(fs_.get(), false, false, inventory_.get(), inventory_->Orphans(v1::Catalog()),
                &report);
  EXPECT_TRUE(Exists(dir_.Sub("root/a")));
  EXPECT_EQ(report.results_size(), 0);
  EXPECT_EQ(inventory_->size(), 0);
}

TEST_F(InventoryTest, NoopOnlySaysWhatWouldBePruned) {
  v1::Catalog catalog;
  *catalog.add_resources() = Res("file", "/a");
  WriteFileOrDie(dir_.Sub("root/a"), "x");
  inventory_->RecordCreated(catalog, Created({"file:/a"}));
  v1::Report report;
  HandleOrphans(fs_.get(), true, true, inventory_.get(), inventory_->Orphans(v1::Catalog()),
                &report);
  EXPECT_TRUE(Exists(dir_.Sub("root/a")));
  ASSERT_EQ(report.results_size(), 1);
  EXPECT_EQ(report.results(0).outcome(), v1::WOULD_CHANGE);
  EXPECT_EQ(inventory_->size(), 1);
}

TEST_F(InventoryTest, ReplacedObjectIsNotPruned) {
  v1::Catalog catalog;
  *catalog.add_resources() = Res("file", "/a");
  inventory_->RecordCreated(catalog, Created({"file:/a"}));
  testing::RunShell("mkdir -p " + dir_.Sub("root/a"));  // a human replaced it by a directory
  v1::Report report;
  HandleOrphans(fs_.get(), true, false, inventory_.get(), inventory_->Orphans(v1::Catalog()),
                &report);
  EXPECT_TRUE(Exists(dir_.Sub("root/a")));
  ASSERT_EQ(report.results_size(), 1);
  EXPECT_EQ(report.results(0).outcome(), v1::SKIPPED);
}

TEST_F(InventoryTest, CorruptInventoryIsAnError) {
  WriteFileOrDie(dir_.Sub("state/bad.pb"), "\xff\xff\xff\xff garbage");
  EXPECT_FALSE(Inventory::Load(dir_.Sub("state/bad.pb")).ok());
}

// The daemon compacts its inventory between runs: every call answers as before, and saving a
// compacted inventory writes its entries.
TEST_F(InventoryTest, ACompactedInventoryKeepsEveryEntry) {
  v1::Catalog catalog;
  *catalog.add_resources() = Res("directory", "/app");
  *catalog.add_resources() = Res("file", "/app/a");
  *catalog.add_resources() = Res("file", "/app/b");
  inventory_->RecordCreated(catalog, Created({"directory:/app", "file:/app/a", "file:/app/b"}));
  inventory_->Compact();
  ASSERT_TRUE(inventory_->Save().ok());
  auto reloaded = Inventory::Load(dir_.Sub("state/inventory.pb"));
  ASSERT_TRUE(reloaded.ok());
  EXPECT_EQ(reloaded->size(), 3);
  EXPECT_TRUE(inventory_->Has("file:/app/b"));
  EXPECT_EQ(inventory_->size(), 3);
  inventory_->Compact();
  v1::Catalog smaller;
  *smaller.add_resources() = Res("directory", "/app");
  std::vector<v1::InventoryEntry> orphans = inventory_->Orphans(smaller);
  ASSERT_EQ(orphans.size(), 2u);
  EXPECT_EQ(orphans[0].path(), "/app/a");
  inventory_->Compact();
  inventory_->Forget("file:/app/a");
  inventory_->Compact();
  inventory_->Compact();  // twice in a row: still the same entries
  EXPECT_FALSE(inventory_->Has("file:/app/a"));
  EXPECT_EQ(inventory_->size(), 2);
}

}  // namespace
}  // namespace plumb
