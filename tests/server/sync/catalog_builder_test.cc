// The builder's per-revision cache of compiled groups is bounded by bytes: nodes with ever-new
// inputs that templates read (an agent reconnecting with new facts) cannot grow it past the
// cap, and an evicted group is compiled again, correctly, when one of its nodes asks.

#include "server/sync/catalog_builder.h"

#include "absl/strings/str_cat.h"
#include "common/compiler/directory_tree.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::TempDir;

class CatalogBuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFileOrDie(dir_.Sub("plumb.yaml"),
                            "version: 1\ntargets:\n  - {name: all, nodes: '*', modules: [base]}\n");
    testing::WriteFileOrDie(dir_.Sub("modules/base/module.yaml"),
                            "resources:\n  - file: /etc/serial\n    template: s.mustache\n"
                            "  - file: /etc/static\n    content: same for all\n");
    // Each node's file is ~4 KiB, so a group costs a few KiB.
    testing::WriteFileOrDie(dir_.Sub("modules/base/templates/s.mustache"),
                            std::string(4096, '#') + "\nserial {{facts.serial}}\n");
    DirectoryTree tree(dir_.path());
    state_ = DesiredState::Parse(tree, "rev1");
    ASSERT_TRUE(state_->ok());
  }

  static NodeInputs Node(int serial) {
    return NodeInputs{"n", {}, {{"serial", absl::StrCat(serial)}}};
  }

  // The content of /etc/serial in `catalog`, fetched as an agent would.
  static std::string SerialFile(CatalogBuilder& builder, const v1::Catalog& catalog) {
    for (const v1::Resource& r : catalog.resources()) {
      if (r.id() != "file:/etc/serial") continue;
      auto blob = builder.Blob(r.content_digest());
      return blob.ok() ? **blob : "<no blob>";
    }
    return "<no resource>";
  }

  TempDir dir_;
  std::shared_ptr<const DesiredState> state_;
};

TEST_F(CatalogBuilderTest, ManyDistinctFactValuesStayUnderTheCap) {
  constexpr size_t kCap = 64 << 10;
  CatalogBuilder builder(kCap);
  builder.SetDesiredState(state_);
  for (int i = 0; i < 500; ++i) {
    auto catalog = builder.Build(Node(i));
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    ASSERT_LE(builder.cached_bytes(), kCap) << "after node " << i;
  }
  EXPECT_LT(builder.compiled_groups(), 500);
  EXPECT_GT(builder.compiled_groups(), 1);
  // The first group was evicted long ago: asking again compiles it again, with its own fact.
  auto again = builder.Build(Node(0));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(SerialFile(builder, **again), std::string(4096, '#') + "\nserial 0\n");
  EXPECT_LE(builder.cached_bytes(), kCap);
  // The blob of an evicted group is gone too (memory is really released)...
  auto latest = builder.Build(Node(499));
  ASSERT_TRUE(latest.ok());
  EXPECT_EQ(SerialFile(builder, **latest), std::string(4096, '#') + "\nserial 499\n");
}

TEST_F(CatalogBuilderTest, EvictedBlobsAreDroppedAndSharedOnesKept) {
  CatalogBuilder builder(16 << 10);
  builder.SetDesiredState(state_);
  auto first = builder.Build(Node(1));
  ASSERT_TRUE(first.ok());
  std::string first_digest, static_digest;
  for (const v1::Resource& r : (*first)->resources()) {
    (r.id() == "file:/etc/serial" ? first_digest : static_digest) = r.content_digest();
  }
  ASSERT_TRUE(builder.Blob(first_digest).ok());
  // A stream that offered node 2's catalog pins its contents.
  auto second = builder.Build(Node(2));
  ASSERT_TRUE(second.ok());
  std::vector<std::shared_ptr<const std::string>> pinned = builder.PinBlobs(**second);
  EXPECT_EQ(pinned.size(), 2u);
  for (int i = 3; i < 50; ++i) ASSERT_TRUE(builder.Build(Node(i)).ok());
  EXPECT_TRUE(absl::IsNotFound(builder.Blob(first_digest).status()));
  EXPECT_TRUE(builder.Blob(static_digest).ok());  // still named by cached groups
  // Node 2's group is gone too, but its agent can still fetch what it was offered...
  EXPECT_EQ(SerialFile(builder, **second), std::string(4096, '#') + "\nserial 2\n");
  // ...until nobody pins it any more.
  std::string second_digest = (*second)->resources(0).content_digest();
  pinned.clear();
  EXPECT_TRUE(absl::IsNotFound(builder.Blob(second_digest).status()));
}

TEST_F(CatalogBuilderTest, RecentlyUsedGroupsSurvive) {
  CatalogBuilder builder(32 << 10);
  builder.SetDesiredState(state_);
  auto hot = builder.Build(Node(0));
  ASSERT_TRUE(hot.ok());
  for (int i = 1; i < 100; ++i) {
    ASSERT_TRUE(builder.Build(Node(i)).ok());
    // The hot group is asked for all the time: it stays, the very same catalog.
    auto again = builder.Build(Node(0));
    ASSERT_TRUE(again.ok());
    ASSERT_EQ(again->get(), hot->get()) << "after node " << i;
  }
}

}  // namespace
}  // namespace plumb
