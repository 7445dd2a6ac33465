// The event bus: fan-out in order, bounded buffers where a slow subscriber drops (and is told
// how many) but never blocks the publisher, shutdown waking waiters.

#include "server/fleet/event_bus.h"

#include <atomic>
#include <thread>

#include "gtest/gtest.h"
#include "server/fleet/event_stream.h"
#include "tests/testing/fake_clock.h"

namespace plumb {
namespace {

using testing::ManualClock;

v1::Event Numbered(int i) { return MakeEvent(v1::EVENT_RUN_FINISHED, "n" + std::to_string(i)); }

TEST(EventBusTest, EverySubscriberGetsEventsInOrderWithSeqAndTime) {
  ManualClock clock(absl::FromUnixMillis(5000));
  EventBus bus(&clock);
  auto a = bus.Subscribe();
  auto b = bus.Subscribe();
  for (int i = 0; i < 3; ++i) bus.Publish(Numbered(i));
  for (const auto& sub : {a, b}) {
    v1::Event e;
    for (int i = 0; i < 3; ++i) {
      ASSERT_TRUE(sub->Pop(&e));
      EXPECT_EQ(e.seq(), i + 1);
      EXPECT_EQ(e.node(), "n" + std::to_string(i));
      EXPECT_EQ(e.unix_ms(), 5000);
      EXPECT_EQ(e.dropped(), 0);
    }
    EXPECT_FALSE(sub->Pop(&e));
  }
  EXPECT_EQ(bus.published(), 3);
}

TEST(EventBusTest, SlowSubscriberDropsOldestAndNeverBlocksPublisher) {
  ManualClock clock;
  EventBus bus(&clock, /*buffer_per_subscriber=*/4);
  auto slow = bus.Subscribe();  // never reads while we publish
  std::atomic<int> fast_seen{0};
  std::shared_ptr<EventSubscription> fast;
  fast = bus.Subscribe([&] {
    v1::Event e;
    while (fast->Pop(&e)) ++fast_seen;
  });
  // Publishing 10000 events must finish even though `slow` reads nothing: run it on a thread
  // and wait with a deadline rather than hang the test if it blocks.
  std::atomic<bool> done{false};
  std::thread publisher([&] {
    for (int i = 0; i < 10000; ++i) bus.Publish(Numbered(i));
    done = true;
  });
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (!done && absl::Now() < deadline) absl::SleepFor(absl::Milliseconds(1));
  ASSERT_TRUE(done) << "Publish blocked on a slow subscriber";
  publisher.join();

  EXPECT_EQ(fast_seen.load(), 10000);
  EXPECT_EQ(slow->dropped_total(), 9996);
  v1::Event e;
  ASSERT_TRUE(slow->Pop(&e));
  EXPECT_EQ(e.node(), "n9996");  // the newest four survive
  EXPECT_EQ(e.dropped(), 9996);  // the gap is reported once, on the first event after it
  ASSERT_TRUE(slow->Pop(&e));
  EXPECT_EQ(e.node(), "n9997");
  EXPECT_EQ(e.dropped(), 0);
}

TEST(EventBusTest, UnsubscribedGetsNothingMore) {
  ManualClock clock;
  EventBus bus(&clock);
  auto sub = bus.Subscribe();
  EXPECT_EQ(bus.subscribers(), 1);
  bus.Unsubscribe(sub);
  EXPECT_EQ(bus.subscribers(), 0);
  bus.Publish(Numbered(1));
  v1::Event e;
  EXPECT_FALSE(sub->Pop(&e));
}

TEST(EventBusTest, WaitPopWakesOnPublishAndOnShutdown) {
  ManualClock clock;
  EventBus bus(&clock);
  auto sub = bus.Subscribe();
  std::thread later([&] {
    absl::SleepFor(absl::Milliseconds(20));
    bus.Publish(Numbered(7));
  });
  v1::Event e;
  EXPECT_TRUE(sub->WaitPop(&e, absl::Seconds(10)));
  EXPECT_EQ(e.node(), "n7");
  later.join();
  EXPECT_FALSE(sub->WaitPop(&e, absl::Milliseconds(10)));

  bool notified = false;
  auto other = bus.Subscribe([&] { notified = true; });
  bus.Shutdown();
  EXPECT_TRUE(notified);
  EXPECT_TRUE(other->closed());
  EXPECT_FALSE(sub->WaitPop(&e, absl::Seconds(10)));  // returns at once: closed
  EXPECT_TRUE(bus.Subscribe()->closed());
}

TEST(EventStreamTest, FilterByKindAndNode) {
  v1::WatchEventsRequest f;
  v1::Event connected = MakeEvent(v1::EVENT_NODE_CONNECTED, "web-1");
  v1::Event fetched = MakeEvent(v1::EVENT_REVISION_FETCHED, "", "abc");
  EXPECT_TRUE(EventMatches(f, connected));
  f.set_node("web-2");
  EXPECT_FALSE(EventMatches(f, connected));
  EXPECT_TRUE(EventMatches(f, fetched));  // fleet-wide events reach node watchers too
  f.set_node("");
  f.add_kinds(v1::EVENT_REVISION_FETCHED);
  EXPECT_FALSE(EventMatches(f, connected));
  EXPECT_TRUE(EventMatches(f, fetched));
}

TEST(EventBusTest, KindNamesForPeople) {
  EXPECT_EQ(EventKindName(v1::EVENT_DRIFT_REPAIRED), "drift_repaired");
  EXPECT_EQ(EventKindName(v1::EVENT_NODE_CONNECTED), "node_connected");
}

}  // namespace
}  // namespace plumb

namespace plumb {
namespace {

TEST(EventBusTest, RelaysLocalEventsOnlySoReplicasNeverLoop) {
  testing::ManualClock clock(absl::FromUnixMillis(7000));
  EventBus bus(&clock);
  std::vector<v1::Event> relayed;
  bus.set_relay([&](const v1::Event& e) { relayed.push_back(e); });
  auto sub = bus.Subscribe();
  bus.Publish(Numbered(1));                 // here: to watchers and to the other replicas
  v1::Event remote = Numbered(2);
  remote.set_unix_ms(1234);                 // its replica's time is kept
  bus.PublishRemote(remote);                // from another replica: watchers only
  ASSERT_EQ(relayed.size(), 1u);
  EXPECT_EQ(relayed[0].node(), "n1");
  EXPECT_EQ(relayed[0].unix_ms(), 7000);
  v1::Event e;
  ASSERT_TRUE(sub->Pop(&e));
  EXPECT_EQ(e.node(), "n1");
  ASSERT_TRUE(sub->Pop(&e));
  EXPECT_EQ(e.node(), "n2");
  EXPECT_EQ(e.seq(), 2);  // numbered by this bus
  EXPECT_EQ(e.unix_ms(), 1234);
  bus.set_relay(nullptr);
  bus.Publish(Numbered(3));
  EXPECT_EQ(relayed.size(), 1u);
}

}  // namespace
}  // namespace plumb
