// LiveRevisions: the catalogs of revisions served besides the newest one (a rollout's previous
// revision, pins). Which builder serves which revision, loading on demand (once), refusing a
// revision that does not compile, blobs of every live revision, Retain, and the generation the
// hub watches.

#include "server/rollout/live_revisions.h"

#include <memory>
#include <string>

#include "common/compiler/directory_tree.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::TempDir;

class LiveRevisionsTest : public ::testing::Test {
 protected:
  // A revision whose one file holds `content` (or, with `valid` false, a broken plumb.yaml).
  std::shared_ptr<const DesiredState> Revision(const std::string& sha, const std::string& content,
                                               bool valid = true) {
    std::string root = dir_.Sub(sha);
    testing::WriteFileOrDie(root + "/plumb.yaml",
                            valid ? "version: 1\ntargets:\n  - {name: all, nodes: '*', "
                                    "modules: [base]}\n"
                                  : "version: 1\ntargets: [unclosed\n");
    testing::WriteFileOrDie(root + "/modules/base/module.yaml",
                            "resources:\n  - file: /etc/app\n    content: " + content + "\n");
    DirectoryTree tree(root);
    return DesiredState::Parse(tree, sha);
  }

  // The content digest of /etc/app in the catalog `builder` makes for a node.
  static std::string AppDigest(CatalogBuilder& builder) {
    auto catalog = builder.Build(NodeInputs{"n1", {}, {}});
    EXPECT_TRUE(catalog.ok()) << catalog.status();
    if (!catalog.ok()) return "";
    for (const v1::Resource& r : (*catalog)->resources()) {
      if (r.id() == "file:/etc/app") return r.content_digest();
    }
    return "";
  }

  void SetUp() override { newest_.SetDesiredState(Revision("new", "newest-content")); }

  // Loads "old" (content "old-content") and "broken"; counts the loads.
  LiveRevisions::Loader Loader() {
    return [this](const std::string& sha) -> absl::StatusOr<std::shared_ptr<const DesiredState>> {
      ++loads_;
      if (sha == "old") return Revision("old", "old-content");
      if (sha == "broken") return Revision("broken", "x", /*valid=*/false);
      return absl::NotFoundError("no such revision " + sha);
    };
  }

  TempDir dir_;
  CatalogBuilder newest_;
  int loads_ = 0;
};

TEST_F(LiveRevisionsTest, TheNewestRevisionIsServedByTheNewestBuilder) {
  LiveRevisions live(&newest_, Loader());
  EXPECT_EQ(live.BuilderFor("").get(), &newest_);
  EXPECT_EQ(live.BuilderFor("new").get(), &newest_);
  EXPECT_EQ(live.BuilderFor("old"), nullptr);  // not live: the hub offers nothing yet
  // Making the newest revision live reuses its parsed state: nothing is loaded.
  ASSERT_TRUE(live.Ensure("new").ok());
  EXPECT_EQ(loads_, 0);
}

TEST_F(LiveRevisionsTest, AnotherRevisionIsLoadedOnceAndItsBlobsAreFetchable) {
  LiveRevisions live(&newest_, Loader());
  uint64_t before = live.generation();
  ASSERT_TRUE(live.Ensure("old").ok());
  ASSERT_TRUE(live.Ensure("old").ok());
  EXPECT_EQ(loads_, 1);
  EXPECT_NE(live.generation(), before);
  std::shared_ptr<CatalogBuilder> old = live.BuilderFor("old");
  ASSERT_NE(old, nullptr);
  EXPECT_NE(old.get(), &newest_);
  std::string digest = AppDigest(*old);
  ASSERT_FALSE(digest.empty());
  EXPECT_FALSE(newest_.Blob(digest).ok());  // only the old revision names it
  auto blob = live.Blob(digest);
  ASSERT_TRUE(blob.ok()) << blob.status();
  EXPECT_EQ(**blob, "old-content");
  auto newest_blob = live.Blob(AppDigest(newest_));
  ASSERT_TRUE(newest_blob.ok()) << newest_blob.status();
  EXPECT_EQ(**newest_blob, "newest-content");
  EXPECT_TRUE(absl::IsNotFound(live.Blob(std::string(64, '0')).status()));
}

TEST_F(LiveRevisionsTest, AGivenStateIsUsedWithoutLoading) {
  LiveRevisions live(&newest_, Loader());
  ASSERT_TRUE(live.Ensure("pinned", Revision("pinned", "pinned-content")).ok());
  EXPECT_EQ(loads_, 0);
  ASSERT_NE(live.BuilderFor("pinned"), nullptr);
}

TEST_F(LiveRevisionsTest, ARevisionThatCannotBeLoadedOrCompiledIsNotLive) {
  LiveRevisions live(&newest_, Loader());
  EXPECT_TRUE(absl::IsNotFound(live.Ensure("gone")));
  absl::Status broken = live.Ensure("broken");
  EXPECT_TRUE(absl::IsFailedPrecondition(broken)) << broken;
  EXPECT_NE(broken.message().find("does not compile"), std::string::npos) << broken;
  EXPECT_EQ(live.BuilderFor("gone"), nullptr);
  EXPECT_EQ(live.BuilderFor("broken"), nullptr);
  LiveRevisions no_loader(&newest_, nullptr);
  EXPECT_TRUE(absl::IsFailedPrecondition(no_loader.Ensure("old")));
}

TEST_F(LiveRevisionsTest, RetainDropsTheOthersButAHeldBuilderStaysUsable) {
  LiveRevisions live(&newest_, Loader());
  ASSERT_TRUE(live.Ensure("old").ok());
  ASSERT_TRUE(live.Ensure("pinned", Revision("pinned", "pinned-content")).ok());
  std::shared_ptr<CatalogBuilder> held = live.BuilderFor("old");
  uint64_t before = live.generation();
  live.Retain({"pinned"});
  EXPECT_NE(live.generation(), before);
  EXPECT_EQ(live.BuilderFor("old"), nullptr);
  EXPECT_NE(live.BuilderFor("pinned"), nullptr);
  EXPECT_FALSE(AppDigest(*held).empty());  // whoever holds it can still build with it
  uint64_t kept = live.generation();
  live.Retain({"pinned"});
  EXPECT_EQ(live.generation(), kept);  // nothing dropped: nothing to re-offer
  // Made live again: loaded again.
  ASSERT_TRUE(live.Ensure("old").ok());
  EXPECT_EQ(loads_, 2);
}

TEST_F(LiveRevisionsTest, ANewNewestRevisionChangesTheGeneration) {
  LiveRevisions live(&newest_, Loader());
  uint64_t before = live.generation();
  newest_.SetDesiredState(Revision("newer", "newer-content"));
  EXPECT_NE(live.generation(), before);
  EXPECT_EQ(live.BuilderFor("newer").get(), &newest_);
  EXPECT_EQ(live.BuilderFor("new"), nullptr);
}

}  // namespace
}  // namespace plumb
