#pragma once

// Server events (revision fetched/compiled/failed, node connected/disconnected, runs, drift
// repairs) published by the poller and the stream hub, fanned out to watchers
// (FleetService.WatchEvents). Each subscriber has a bounded buffer: a slow subscriber loses its
// oldest events (and is told how many) instead of ever blocking a publisher.

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/clock.h"
#include "plumb/v1/fleet.pb.h"

namespace plumb {

// One subscriber's bounded queue. Thread-safe.
class EventSubscription {
 public:
  EventSubscription(size_t capacity, std::function<void()> on_ready)
      : capacity_(capacity), on_ready_(std::move(on_ready)) {}

  // Pops the oldest buffered event without blocking; false when none. The popped event's
  // `dropped` says how many events were lost to overflow just before it.
  bool Pop(v1::Event* event);
  // Like Pop, but waits up to `timeout` for an event (tests and simple consumers).
  bool WaitPop(v1::Event* event, absl::Duration timeout);
  // Events lost to overflow since subscribing.
  int64_t dropped_total() const;
  // True once the bus shut down; buffered events may still be popped.
  bool closed() const;

 private:
  friend class EventBus;
  // Buffers `event`, dropping the oldest one when full. Never blocks beyond the queue's mutex.
  void Push(const v1::Event& event);
  // Calls on_ready (if any). Called by the bus with no lock held.
  void NotifyReady() const;
  void Close();

  const size_t capacity_;
  const std::function<void()> on_ready_;
  mutable absl::Mutex mu_;
  std::deque<v1::Event> queue_ ABSL_GUARDED_BY(mu_);
  int64_t dropped_pending_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t dropped_total_ ABSL_GUARDED_BY(mu_) = 0;
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

// Thread-safe publish/subscribe of v1::Event. Publishing costs one short lock per subscriber
// plus the subscribers' on_ready callbacks, which must not block.
class EventBus {
 public:
  static constexpr size_t kDefaultBuffer = 1024;

  // `clock` (not owned) stamps events; it must outlive the bus.
  explicit EventBus(Clock* clock, size_t buffer_per_subscriber = kDefaultBuffer)
      : clock_(clock), buffer_(buffer_per_subscriber) {}

  // Subscribes to every event published from now on. `on_ready` (optional) runs on the
  // publisher's thread after each event is buffered; it must not block nor call Unsubscribe.
  std::shared_ptr<EventSubscription> Subscribe(std::function<void()> on_ready = nullptr);
  void Unsubscribe(const std::shared_ptr<EventSubscription>& subscription);

  // Stamps `event` with the next sequence number (and the time, unless set) and buffers it for
  // every subscriber.
  void Publish(v1::Event event);

  // Replicas (server/fleet/replica_relay.h): `relay` gets every event published here with
  // Publish (not those given to PublishRemote), on the publisher's thread; it must not block.
  void set_relay(std::function<void(const v1::Event&)> relay);
  // Publishes an event another replica published: to the subscribers only, never relayed.
  void PublishRemote(v1::Event event);

  // Closes every subscription (and later ones at once), waking their owners: server shutdown.
  void Shutdown();

  int subscribers() const;
  int64_t published() const;

 private:
  Clock* const clock_;
  const size_t buffer_;
  mutable absl::Mutex mu_;
  std::vector<std::shared_ptr<EventSubscription>> subscribers_ ABSL_GUARDED_BY(mu_);
  int64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  std::function<void(const v1::Event&)> relay_ ABSL_GUARDED_BY(mu_);
};

// Convenience constructors for the events the server publishes.
v1::Event MakeEvent(v1::EventKind kind, const std::string& node = "",
                    const std::string& revision = "", const std::string& message = "");

// "run_finished" for EVENT_RUN_FINISHED: the kind's name for people and log lines.
std::string EventKindName(v1::EventKind kind);

}  // namespace plumb
