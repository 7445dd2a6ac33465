// The daemon's held catalog: kept serialized between runs, parsed on demand.

#include "agent/held_catalog.h"

#include "gtest/gtest.h"

namespace plumb {
namespace {

v1::Catalog TwoFiles() {
  v1::Catalog catalog;
  catalog.set_revision("abc123");
  catalog.set_digest("d1");
  catalog.set_prune(true);
  for (const char* name : {"/etc/motd", "/etc/issue"}) {
    v1::Resource* r = catalog.add_resources();
    r->set_type("file");
    r->set_name(name);
    r->set_id(std::string("file:") + name);
    r->set_version("v");
    r->set_content_digest("c");
    (*r->mutable_attributes())["mode"].set_str("0644");
  }
  return catalog;
}

TEST(HeldCatalogTest, HoldsTheCatalogSerializedAndParsesEqualCopies) {
  HeldCatalog held;
  const v1::Catalog catalog = TwoFiles();
  held.Set(catalog);
  EXPECT_EQ(held.digest(), "d1");
  v1::Catalog from_bytes;
  ASSERT_TRUE(from_bytes.ParseFromString(held.serialized()));
  EXPECT_EQ(from_bytes.SerializeAsString(), catalog.SerializeAsString());
  v1::Catalog parsed = held.Parse();
  EXPECT_EQ(parsed.revision(), "abc123");
  EXPECT_TRUE(parsed.prune());
  ASSERT_EQ(parsed.resources_size(), 2);
  EXPECT_EQ(parsed.resources(1).id(), "file:/etc/issue");
  EXPECT_EQ(parsed.resources(1).attributes().at("mode").str(), "0644");
  // A parsed copy is the caller's: changing it leaves the held catalog as it was.
  parsed.clear_resources();
  EXPECT_EQ(held.Parse().resources_size(), 2);
  HeldCatalog::OnArena on_arena = held.ParseOnArena();
  ASSERT_NE(on_arena.catalog, nullptr);
  EXPECT_EQ(on_arena.catalog->GetArena(), on_arena.arena.get());
  EXPECT_EQ(on_arena.catalog->SerializeAsString(), catalog.SerializeAsString());
}

TEST(HeldCatalogTest, CachedBytesAreCheckedWhenLoaded) {
  HeldCatalog held;
  ASSERT_TRUE(held.SetSerialized(TwoFiles().SerializeAsString()));
  EXPECT_EQ(held.digest(), "d1");
  EXPECT_EQ(held.Parse().resources_size(), 2);
  EXPECT_FALSE(held.SetSerialized("\xff\xff not a catalog"));
  EXPECT_EQ(held.digest(), "");
  EXPECT_EQ(held.serialized(), "");
  EXPECT_EQ(held.Parse().resources_size(), 0);
  EXPECT_EQ(held.ParseOnArena().catalog->resources_size(), 0);
}

TEST(HeldCatalogTest, ClearHoldsNothing) {
  HeldCatalog held;
  held.Set(TwoFiles());
  held.Clear();
  EXPECT_EQ(held.digest(), "");
  EXPECT_EQ(held.Parse().resources_size(), 0);
}

}  // namespace
}  // namespace plumb
