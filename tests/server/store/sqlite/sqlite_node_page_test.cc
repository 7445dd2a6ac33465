#include <chrono>
#include <cstdio>

#include "gtest/gtest.h"
#include "server/console/console_pages.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

std::unique_ptr<Store> StoreWithNodes(const testing::TempDir& dir, int n) {
  auto store = SqliteStore::Open(dir.Sub("plumb.db"));
  EXPECT_TRUE(store.ok());
  std::vector<v1::Node> nodes;
  for (int i = 0; i < n; ++i) {
    v1::Node node;
    char name[32];
    snprintf(name, sizeof(name), "node-%05d", i);
    node.set_name(name);
    node.set_status(i % 10 == 0 ? v1::NODE_FAILED : v1::NODE_CONVERGED);
    (*node.mutable_labels())["role"] = i % 2 == 0 ? "web" : "db";
    (*node.mutable_facts())["os.id"] = "debian";
    node.set_applied_revision("0123456789abcdef0123456789abcdef01234567");
    nodes.push_back(node);
  }
  EXPECT_TRUE((*store)->PutNodes(nodes).ok());
  return std::move(*store);
}

TEST(SqliteNodePageTest, FiltersSortsAndPagesInTheQuery) {
  testing::TempDir dir;
  auto store = StoreWithNodes(dir, 120);
  Store::NodePageQuery q;
  q.limit = 50;
  q.offset = 100;
  auto page = store->ListNodesPage(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 120);
  ASSERT_EQ(page->nodes.size(), 20u);
  EXPECT_EQ(page->nodes[0].name(), "node-00100");
  q = {};
  q.status = v1::NODE_FAILED;
  q.descending = true;
  page = store->ListNodesPage(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 12);
  EXPECT_EQ(page->nodes[0].name(), "node-00110");
  q = {};
  q.name_contains = "0011";
  EXPECT_EQ(store->ListNodesPage(q)->total, 11);  // node-00011 and node-00110..119
  q = {};
  q.selector = {{"role", "web"}};
  q.sort = "status";
  page = store->ListNodesPage(q);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(page->total, 60);
  EXPECT_EQ(page->nodes[0].status(), v1::NODE_CONVERGED);  // converged (3) before failed (4)
}

// The fleet page over 10,000 nodes renders the whole fleet's counts and one page of the table,
// also with a status filter and a label filter with a sort. How fast is measured in bench/
// (bench/fleet.sh with FLEET_TLS=1 FLEET_CONSOLE=1, docs/benchmarks.md), not here.
TEST(SqliteNodePageTest, FleetPageOfTenThousandNodesShowsTheCountsAndOnePage) {
  testing::TempDir dir;
  auto store = StoreWithNodes(dir, 10000);
  ConsoleData data;
  data.store = store.get();
  for (const QueryParams& q : {QueryParams{}, QueryParams{{"status", "failed"}, {"page", "3"}},
                               QueryParams{{"label", "role=web"}, {"sort", "status"}}}) {
    auto page = FleetPage(data, q);
    ASSERT_TRUE(page.ok());
    EXPECT_NE(page->body.find("10000 nodes"), std::string::npos);
  }
}

}  // namespace
}  // namespace plumb
