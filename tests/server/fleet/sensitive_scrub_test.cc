#include "server/fleet/sensitive_scrub.h"

#include "gtest/gtest.h"

namespace plumb {
namespace {

TEST(SensitiveScrubTest, DiffsOfSensitiveResourcesAreCleared) {
  v1::Catalog catalog;
  v1::Resource* secret = catalog.add_resources();
  secret->set_id("file:/etc/secret");
  secret->set_sensitive(true);
  catalog.add_resources()->set_id("file:/etc/motd");
  v1::Report report;
  v1::ResourceResult* a = report.add_results();
  a->set_id("file:/etc/secret");
  a->set_diff("+password=hunter2\n");
  a->set_message("content differs");
  v1::ResourceResult* b = report.add_results();
  b->set_id("file:/etc/motd");
  b->set_diff("+hello\n");
  EXPECT_EQ(ScrubSensitiveResults(catalog, &report), 1);
  EXPECT_EQ(report.results(0).diff(), "");
  EXPECT_EQ(report.results(0).message(), "content differs");
  EXPECT_EQ(report.results(1).diff(), "+hello\n");
  EXPECT_EQ(ScrubSensitiveResults(catalog, &report), 0);
}

}  // namespace
}  // namespace plumb
