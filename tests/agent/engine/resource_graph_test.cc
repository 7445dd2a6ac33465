#include "agent/engine/resource_graph.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/agent_test_fakes.h"

namespace plumb {
namespace {

using ::plumb::testing::MakeResource;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

v1::Resource* Add(v1::Catalog* catalog, const std::string& name) {
  v1::Resource* r = catalog->add_resources();
  *r = MakeResource("exec", name);
  return r;
}

TEST(ResourceGraphTest, IndependentResourcesKeepCatalogOrder) {
  v1::Catalog catalog;
  for (const char* name : {"a", "b", "c"}) Add(&catalog, name);
  ResourceGraph graph(catalog);
  EXPECT_THAT(graph.order(), ElementsAre(0, 1, 2));
}

TEST(ResourceGraphTest, AllRelationsOrder) {
  v1::Catalog catalog;
  Add(&catalog, "service")->add_subscribe("exec:config");  // 0 after 2
  Add(&catalog, "package")->add_before("exec:config");     // 1 before 2
  Add(&catalog, "config")->add_notify("exec:reload");      // 2 before 3
  Add(&catalog, "reload");                                 // 3
  Add(&catalog, "user");                                   // 4
  Add(&catalog, "early")->add_require("exec:user");        // 5 after 4
  ResourceGraph graph(catalog);
  EXPECT_THAT(graph.order(), ElementsAre(1, 2, 0, 3, 4, 5));
  EXPECT_THAT(graph.notifiers(0), ElementsAre(2));
  EXPECT_THAT(graph.notifiers(3), ElementsAre(2));
  EXPECT_THAT(graph.notifiers(1), IsEmpty());
  EXPECT_THAT(graph.dependencies(2), ElementsAre(1));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(graph.error(i), "") << i;
}

TEST(ResourceGraphTest, CycleIsReportedWithPath) {
  v1::Catalog catalog;
  Add(&catalog, "ok");
  Add(&catalog, "a")->add_require("exec:b");
  Add(&catalog, "b")->add_require("exec:a");
  Add(&catalog, "behind")->add_require("exec:a");
  ResourceGraph graph(catalog);
  EXPECT_THAT(graph.order(), ElementsAre(0, 1, 2, 3));
  EXPECT_EQ(graph.error(0), "");
  EXPECT_THAT(graph.error(1), HasSubstr("exec:a -> exec:b -> exec:a"));
  EXPECT_THAT(graph.error(3), HasSubstr("cycle"));
}

TEST(ResourceGraphTest, UnknownReferenceAndDuplicateAreErrors) {
  v1::Catalog catalog;
  Add(&catalog, "a")->add_notify("service:ghost");
  Add(&catalog, "b");
  Add(&catalog, "b");
  ResourceGraph graph(catalog);
  EXPECT_THAT(graph.error(0), HasSubstr("notify names unknown resource service:ghost"));
  EXPECT_EQ(graph.error(1), "");
  EXPECT_THAT(graph.error(2), HasSubstr("duplicate"));
}

}  // namespace
}  // namespace plumb
