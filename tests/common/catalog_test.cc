#include "common/catalog.h"

#include "gtest/gtest.h"
#include "google/protobuf/util/message_differencer.h"

namespace plumb {
namespace {

v1::Resource File(const std::string& path, const std::string& mode) {
  v1::Resource r;
  r.set_type("file");
  r.set_name(path);
  r.set_id(ResourceId("file", path));
  (*r.mutable_attributes())["mode"].set_str(mode);
  return r;
}

v1::Catalog MakeCatalog(std::vector<v1::Resource> resources) {
  v1::Catalog c;
  c.set_revision("rev");
  for (auto& r : resources) *c.add_resources() = r;
  SealCatalog(&c);
  return c;
}

std::map<std::string, std::string> Versions(const v1::Catalog& c) {
  std::map<std::string, std::string> out;
  for (const auto& r : c.resources()) out[r.id()] = r.version();
  return out;
}

TEST(CatalogTest, VersionDependsOnSpecButNotOnLocation) {
  v1::Resource a = File("/a", "0644");
  v1::Resource b = a;
  b.set_source_location("modules/x/module.yaml:3:5");
  EXPECT_EQ(ComputeResourceVersion(a), ComputeResourceVersion(b));
  b = File("/a", "0600");
  EXPECT_NE(ComputeResourceVersion(a), ComputeResourceVersion(b));
  // Sealing in place gives the same versions and keeps where each resource was written.
  v1::Resource located = a;
  located.set_source_location("modules/x/module.yaml:3:5");
  located.set_version("stale");
  v1::Catalog c = MakeCatalog({located, b});
  EXPECT_EQ(c.resources(0).version(), ComputeResourceVersion(a));
  EXPECT_EQ(c.resources(0).source_location(), "modules/x/module.yaml:3:5");
  EXPECT_EQ(c.resources(1).version(), ComputeResourceVersion(b));
}

TEST(CatalogTest, DigestIsStableAndSeesOrderAndContent) {
  v1::Catalog c1 = MakeCatalog({File("/a", "0644"), File("/b", "0644")});
  v1::Catalog c2 = MakeCatalog({File("/a", "0644"), File("/b", "0644")});
  EXPECT_EQ(c1.digest(), c2.digest());
  EXPECT_EQ(c1.digest().size(), 64u);
  v1::Catalog reordered = MakeCatalog({File("/b", "0644"), File("/a", "0644")});
  EXPECT_NE(c1.digest(), reordered.digest());
  v1::Resource with_content = File("/a", "0644");
  with_content.set_content_digest(std::string(64, 'a'));
  EXPECT_NE(c1.digest(), MakeCatalog({with_content, File("/b", "0644")}).digest());
  EXPECT_EQ(ComputeCatalogDigest(c1), c1.digest());
}

TEST(CatalogTest, DeltaFromNothingIsFull) {
  v1::Catalog c = MakeCatalog({File("/a", "0644"), File("/b", "0644")});
  v1::CatalogUpdate u = ComputeDelta({}, c);
  EXPECT_TRUE(u.full());
  EXPECT_EQ(u.upserted_size(), 2);
  EXPECT_EQ(u.removed_size(), 0);
}

TEST(CatalogTest, DeltaSendsOnlyChangedAndRemoved) {
  v1::Catalog old_c = MakeCatalog({File("/a", "0644"), File("/b", "0644"), File("/c", "0644")});
  v1::Catalog new_c = MakeCatalog({File("/a", "0644"), File("/b", "0600"), File("/d", "0644")});
  v1::CatalogUpdate u = ComputeDelta(Versions(old_c), new_c);
  EXPECT_FALSE(u.full());
  ASSERT_EQ(u.upserted_size(), 2);
  EXPECT_EQ(u.upserted(0).id(), "file:/b");
  EXPECT_EQ(u.upserted(1).id(), "file:/d");
  ASSERT_EQ(u.removed_size(), 1);
  EXPECT_EQ(u.removed(0), "file:/c");

  v1::Catalog held = old_c;
  ASSERT_TRUE(ApplyUpdate(u, &held));
  EXPECT_EQ(held.digest(), new_c.digest());
  EXPECT_EQ(ComputeCatalogDigest(held), new_c.digest());
  ASSERT_EQ(held.resources_size(), 3);
  EXPECT_EQ(held.resources(2).id(), "file:/d");
}

TEST(CatalogTest, UnchangedCatalogGivesEmptyDelta) {
  v1::Catalog c = MakeCatalog({File("/a", "0644")});
  v1::CatalogUpdate u = ComputeDelta(Versions(c), c);
  EXPECT_EQ(u.upserted_size(), 0);
  EXPECT_EQ(u.removed_size(), 0);
}

TEST(CatalogTest, ApplyUpdateRefusesADeltaNamingUnknownResources) {
  v1::Catalog c = MakeCatalog({File("/a", "0644"), File("/b", "0644")});
  std::map<std::string, std::string> claimed = {{"file:/a", c.resources(0).version()},
                                                {"file:/b", c.resources(1).version()}};
  v1::CatalogUpdate u = ComputeDelta(claimed, c);  // nothing upserted
  v1::Catalog empty;
  EXPECT_FALSE(ApplyUpdate(u, &empty));
}

}  // namespace
}  // namespace plumb

namespace plumb {
namespace {

TEST(CatalogTest, PruneFlagIsPartOfDigestAndTravelsInDeltas) {
  v1::Catalog plain = MakeCatalog({File("/a", "0644")});
  v1::Catalog pruning = plain;
  pruning.set_prune(true);
  SealCatalog(&pruning);
  EXPECT_NE(plain.digest(), pruning.digest());
  v1::CatalogUpdate u = ComputeDelta(Versions(plain), pruning);
  EXPECT_EQ(u.upserted_size(), 0);
  v1::Catalog held = plain;
  ASSERT_TRUE(ApplyUpdate(u, &held));
  EXPECT_TRUE(held.prune());
  EXPECT_EQ(ComputeCatalogDigest(held), pruning.digest());
}

}  // namespace
}  // namespace plumb

namespace plumb {
namespace {

// The hub computes deltas from the catalog an agent acknowledged instead of keeping an
// id -> version map per agent: both must give the same update.
TEST(CatalogTest, DeltaFromHeldCatalogEqualsDeltaFromItsVersions) {
  v1::Catalog old_c = MakeCatalog({File("/c", "0644"), File("/a", "0644"), File("/b", "0644"),
                                   File("/e", "0644")});
  v1::Catalog new_c = MakeCatalog({File("/a", "0644"), File("/b", "0600"), File("/d", "0644")});
  for (const auto& [from, to] : {std::pair{&old_c, &new_c}, std::pair{&new_c, &old_c},
                                 std::pair{&new_c, &new_c}}) {
    v1::CatalogUpdate by_map = ComputeDelta(Versions(*from), *to);
    v1::CatalogUpdate by_catalog = ComputeDeltaFrom(*from, *to);
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(by_catalog, by_map));
  }
  v1::CatalogUpdate full = ComputeDeltaFrom(v1::Catalog(), new_c);
  EXPECT_TRUE(full.full());
  EXPECT_TRUE(
      google::protobuf::util::MessageDifferencer::Equals(full, ComputeDelta({}, new_c)));
}

}  // namespace
}  // namespace plumb
