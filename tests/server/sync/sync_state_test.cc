#include "server/sync/sync_state.h"

#include "gtest/gtest.h"

namespace plumb {
namespace {

std::shared_ptr<const v1::Catalog> Catalog(const std::string& digest) {
  auto c = std::make_shared<v1::Catalog>();
  c->set_digest(digest);
  v1::Resource* r = c->add_resources();
  r->set_id("file:/etc/motd");
  r->set_version("v-" + digest);
  return c;
}

v1::Ack Ack(const std::string& nonce, const std::string& error = "") {
  v1::Ack ack;
  ack.set_nonce(nonce);
  ack.set_error(error);
  return ack;
}

SyncState Greeted(const std::string& held_digest) {
  SyncState s;
  v1::Hello hello;
  hello.set_node("web-1");
  hello.set_catalog_digest(held_digest);
  (*hello.mutable_resource_versions())["file:/etc/motd"] = "claimed";
  NodeInputs inputs;
  inputs.name = "web-1";
  s.Greet(hello, inputs);
  return s;
}

TEST(SyncStateTest, AHelloIsAnsweredOnceEvenWhenTheAgentHoldsTheCatalog) {
  SyncState s = Greeted("d1");
  EXPECT_TRUE(s.greeted());
  EXPECT_FALSE(s.held_trusted());  // what a Hello claims is never shared with others
  EXPECT_EQ(s.HeldVersion("file:/etc/motd"), "claimed");  // deltas go against the claim
  EXPECT_TRUE(s.ShouldSend(*Catalog("d1")));
  EXPECT_FALSE(s.ShouldSend(*Catalog("d1")));
  EXPECT_TRUE(s.ShouldSend(*Catalog("d2")));
}

TEST(SyncStateTest, AnAckMakesTheCatalogHeldAndTrusted) {
  SyncState s = Greeted("");
  auto c = Catalog("d1");
  std::string nonce = s.StartUpdate(c, 1);
  EXPECT_TRUE(s.update_in_flight());
  EXPECT_EQ(s.TakeAck(Ack("not-" + nonce)), nullptr);  // stale: still in flight
  EXPECT_TRUE(s.update_in_flight());
  EXPECT_EQ(s.TakeAck(Ack(nonce)), c);
  EXPECT_FALSE(s.update_in_flight());
  EXPECT_TRUE(s.held_trusted());
  EXPECT_EQ(s.held_digest(), "d1");
  EXPECT_EQ(s.HeldVersion("file:/etc/motd"), "v-d1");
  EXPECT_EQ(s.acked(), c.get());
  EXPECT_EQ(s.resources_sent(), 1);
  EXPECT_EQ(s.TakeAck(Ack(nonce)), nullptr);  // answered already
}

TEST(SyncStateTest, ARejectedCatalogIsNotOfferedAgainUntilItChanges) {
  SyncState s = Greeted("d0");
  ASSERT_TRUE(s.ShouldSend(*Catalog("d1")));
  std::string nonce = s.StartUpdate(Catalog("d1"), 1);
  EXPECT_NE(s.TakeAck(Ack(nonce, "bad digest")), nullptr);
  EXPECT_EQ(s.held_digest(), "d0");
  EXPECT_FALSE(s.held_trusted());
  EXPECT_EQ(s.HeldVersion("file:/etc/motd"), "claimed");
  EXPECT_FALSE(s.ShouldSend(*Catalog("d1")));
  EXPECT_TRUE(s.ShouldSend(*Catalog("d2")));
}

TEST(SyncStateTest, NeedsOfferWhenSomethingNewerWasServedMeanwhile) {
  SyncState s = Greeted("");
  s.Offering(7);
  ASSERT_TRUE(s.ShouldSend(*Catalog("d1")));  // answers the Hello
  std::string nonce = s.StartUpdate(Catalog("d1"), 1);
  s.TakeAck(Ack(nonce));
  EXPECT_FALSE(s.NeedsOffer(7));
  EXPECT_TRUE(s.NeedsOffer(8));
}

}  // namespace
}  // namespace plumb
