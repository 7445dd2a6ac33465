#include "server/fleet/plan_diff.h"

#include "absl/strings/match.h"
#include "common/catalog.h"
#include "common/digest.h"
#include "gtest/gtest.h"

namespace plumb {
namespace {

// Builds compile results by hand: resources with attributes, relations and file contents.
class CatalogMaker {
 public:
  CatalogMaker& File(const std::string& path, const std::string& content,
                     const std::string& mode = "0644", bool sensitive = false,
                     std::vector<std::string> notify = {}) {
    v1::Resource* r = Add("file", path);
    (*r->mutable_attributes())["mode"].set_str(mode);
    std::string digest = Sha256Hex(content);
    r->set_content_digest(digest);
    r->set_content_size(static_cast<int64_t>(content.size()));
    r->set_sensitive(sensitive);
    for (const std::string& n : notify) r->add_notify(n);
    result_.blobs[digest] = std::make_shared<const std::string>(content);
    return *this;
  }
  CatalogMaker& Service(const std::string& name, std::vector<std::string> subscribe = {}) {
    v1::Resource* r = Add("service", name);
    (*r->mutable_attributes())["ensure"].set_str("running");
    for (const std::string& s : subscribe) r->add_subscribe(s);
    return *this;
  }
  NodeCompileResult Build() {
    SealCatalog(&catalog_);
    result_.catalog = std::make_shared<const v1::Catalog>(catalog_);
    return result_;
  }

 private:
  v1::Resource* Add(const std::string& type, const std::string& name) {
    v1::Resource* r = catalog_.add_resources();
    r->set_type(type);
    r->set_name(name);
    r->set_id(ResourceId(type, name));
    return r;
  }
  v1::Catalog catalog_;
  NodeCompileResult result_;
};

TEST(PlanDiffTest, EqualCatalogsHaveNoChange) {
  NodeCompileResult a = CatalogMaker().File("/etc/motd", "hi\n").Service("nginx").Build();
  NodeCompileResult b = CatalogMaker().File("/etc/motd", "hi\n").Service("nginx").Build();
  CatalogChange change = DiffCatalogs(&a, b);
  EXPECT_TRUE(change.empty());
  EXPECT_EQ(change.summary, "");
  EXPECT_EQ(change.diff, "");
}

TEST(PlanDiffTest, ContentChangeShowsDiffAndNotifiedServiceIsRefreshed) {
  NodeCompileResult a = CatalogMaker()
                            .File("/etc/nginx/nginx.conf", "a\nworkers 2\nb\n", "0644", false,
                                  {"service:nginx"})
                            .Service("nginx")
                            .Service("other")
                            .Build();
  NodeCompileResult b = CatalogMaker()
                            .File("/etc/nginx/nginx.conf", "a\nworkers 4\nb\n", "0600", false,
                                  {"service:nginx"})
                            .Service("nginx")
                            .Service("other")
                            .Build();
  CatalogChange change = DiffCatalogs(&a, b);
  EXPECT_EQ(change.summary, "file:/etc/nginx/nginx.conf content mode, service:nginx refresh");
  ASSERT_EQ(change.changes.size(), 2u);
  EXPECT_EQ(change.changes[0].kind(), v1::PLAN_CHANGED);
  EXPECT_TRUE(change.changes[0].content());
  EXPECT_EQ(change.changes[0].attributes(0), "mode");
  EXPECT_FALSE(change.changes[0].relations());
  EXPECT_EQ(change.changes[1].kind(), v1::PLAN_REFRESH);
  EXPECT_EQ(change.diff,
            "--- a/etc/nginx/nginx.conf\n+++ b/etc/nginx/nginx.conf\n@@ -1,3 +1,3 @@\n a\n"
            "-workers 2\n+workers 4\n b\n");
}

TEST(PlanDiffTest, AddedRemovedSubscribedAndRelations) {
  NodeCompileResult a = CatalogMaker().File("/old", "x\n").Service("web").Build();
  NodeCompileResult b =
      CatalogMaker().File("/new", "y\n").Service("web", {"file:/new"}).Build();
  CatalogChange change = DiffCatalogs(&a, b);
  EXPECT_EQ(change.summary, "file:/new added, service:web relations, file:/old removed");
  EXPECT_EQ(change.diff, "--- /dev/null\n+++ b/new\n@@ -0,0 +1 @@\n+y\n");
  // No current catalog at all: everything is added.
  CatalogChange fresh = DiffCatalogs(nullptr, a);
  EXPECT_EQ(fresh.summary, "file:/old added, service:web added");
}

TEST(PlanDiffTest, SensitiveContentIsNeverShown) {
  NodeCompileResult a = CatalogMaker().File("/etc/secret", "password=one\n", "0600", true).Build();
  NodeCompileResult b = CatalogMaker().File("/etc/secret", "password=two\n", "0600", true).Build();
  CatalogChange change = DiffCatalogs(&a, b);
  EXPECT_EQ(change.summary, "file:/etc/secret content");
  EXPECT_TRUE(change.changes[0].sensitive());
  EXPECT_EQ(change.diff, "file:/etc/secret: content changed (sensitive)\n");
  // Turning sensitivity on hides the old content as well.
  NodeCompileResult plain = CatalogMaker().File("/etc/secret", "password=one\n", "0600").Build();
  CatalogChange now_sensitive = DiffCatalogs(&plain, b);
  EXPECT_FALSE(absl::StrContains(now_sensitive.diff, "password"));
  EXPECT_EQ(now_sensitive.summary, "file:/etc/secret content sensitive");
}

TEST(PlanDiffTest, AssemblerGroupsSameChangesAndListsUntouchedAndFailures) {
  NodeCompileResult a = CatalogMaker().File("/f", "1\n").Build();
  NodeCompileResult b = CatalogMaker().File("/f", "2\n").Build();
  NodeCompileResult c = CatalogMaker().File("/f", "3\n").Build();
  auto ab = std::make_shared<const CatalogChange>(DiffCatalogs(&a, b));
  auto ac = std::make_shared<const CatalogChange>(DiffCatalogs(&a, c));
  auto none = std::make_shared<const CatalogChange>(DiffCatalogs(&a, a));
  NodeCompileResult m1 = CatalogMaker().File("/f", "1\n").Service("x").Build();
  auto added = std::make_shared<const CatalogChange>(DiffCatalogs(&a, m1));
  PlanAssembler assembler;
  assembler.AddChange("web-2", ab);
  assembler.AddChange("db-1", none);
  assembler.AddChange("web-1", ab);
  assembler.AddChange("web-3", ac);  // same resources change the same way: same group
  assembler.AddChange("mail", added);
  assembler.AddFailure("odd", {{"modules/a/module.yaml:3:5", "label role missing", true}});
  assembler.AddSkipped();
  v1::PlanResponse plan;
  assembler.Finish(&plan);
  ASSERT_EQ(plan.groups_size(), 2);
  EXPECT_EQ(std::vector<std::string>(plan.groups(0).nodes().begin(), plan.groups(0).nodes().end()),
            (std::vector<std::string>{"web-1", "web-2", "web-3"}));
  EXPECT_EQ(plan.groups(0).summary(), "file:/f content");
  EXPECT_TRUE(absl::StartsWith(plan.groups(0).diff(),
                               "# diff of web-1; 1 other node(s) of this group differ"));
  EXPECT_TRUE(absl::StrContains(plan.groups(0).diff(), "-1\n+2\n"));
  EXPECT_EQ(plan.groups(1).summary(), "service:x added");
  EXPECT_EQ(plan.groups(1).nodes(0), "mail");
  ASSERT_EQ(plan.unchanged_size(), 1);
  EXPECT_EQ(plan.unchanged(0), "db-1");
  ASSERT_EQ(plan.failures_size(), 1);
  EXPECT_EQ(plan.failures(0).node(), "odd");
  EXPECT_EQ(plan.failures(0).errors(0).location(), "modules/a/module.yaml:3:5");
  EXPECT_EQ(plan.skipped(), 1);
}

}  // namespace
}  // namespace plumb
