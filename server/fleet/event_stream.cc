#include "server/fleet/event_stream.h"

#include <algorithm>
#include <memory>

#include "absl/synchronization/mutex.h"

namespace plumb {
namespace {

class EventStream;

// What the reactor and the bus's on_ready callback share. The callback may run after the
// reactor is gone (the bus copies its subscriber list before notifying), so it holds this,
// not the reactor; `reactor` is cleared in OnDone.
struct WatchState {
  WatchState(v1::WatchEventsRequest f, std::function<grpc::Status()> authorized)
      : filter(std::move(f)), still_authorized(std::move(authorized)) {}

  // Starts the next write, or Finish, if nothing is in flight. Calls into gRPC with no lock
  // held: the reactor cannot be deleted meanwhile, because OnDone needs Finish and only the
  // one thread that flips `finished` calls it.
  void Pump();

  const v1::WatchEventsRequest filter;
  const std::function<grpc::Status()> still_authorized;  // may be empty

  absl::Mutex mu;
  // Set once right after subscribing; a callback that fires before that finds it null and
  // leaves the work to the constructor's Pump.
  std::shared_ptr<EventSubscription> subscription ABSL_GUARDED_BY(mu);
  EventStream* reactor ABSL_GUARDED_BY(mu) = nullptr;
  v1::Event out ABSL_GUARDED_BY(mu);  // the event being written; stable while `writing`
  int64_t skipped_dropped ABSL_GUARDED_BY(mu) = 0;  // drops reported on filtered-out events
  bool writing ABSL_GUARDED_BY(mu) = false;
  bool finishing ABSL_GUARDED_BY(mu) = false;
  bool finished ABSL_GUARDED_BY(mu) = false;
  grpc::Status finish_status ABSL_GUARDED_BY(mu);
};

// The reactor of one WatchEvents call. Deletes itself in OnDone.
class EventStream : public grpc::ServerWriteReactor<v1::Event> {
 public:
  EventStream(EventBus* bus, const v1::WatchEventsRequest& request,
              std::function<grpc::Status()> still_authorized)
      : bus_(bus),
        state_(std::make_shared<WatchState>(request, std::move(still_authorized))) {
    {
      absl::MutexLock lock(&state_->mu);
      state_->reactor = this;
    }
    std::weak_ptr<WatchState> weak = state_;
    auto subscription = bus_->Subscribe([weak] {
      if (auto state = weak.lock()) state->Pump();
    });
    {
      absl::MutexLock lock(&state_->mu);
      state_->subscription = std::move(subscription);
    }
    // Headers now: a client can wait for them to know it is subscribed before acting.
    StartSendInitialMetadata();
    state_->Pump();
  }

  void OnSendInitialMetadataDone(bool ok) override {}

  void OnWriteDone(bool ok) override {
    {
      absl::MutexLock lock(&state_->mu);
      state_->writing = false;
      if (!ok && !state_->finishing) {
        state_->finishing = true;
        state_->finish_status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed");
      }
    }
    state_->Pump();
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&state_->mu);
      if (!state_->finishing) {
        state_->finishing = true;
        state_->finish_status = grpc::Status::CANCELLED;
      }
    }
    state_->Pump();
  }

  void OnDone() override {
    std::shared_ptr<EventSubscription> subscription;
    {
      absl::MutexLock lock(&state_->mu);
      state_->reactor = nullptr;
      subscription = state_->subscription;
    }
    bus_->Unsubscribe(subscription);
    delete this;
  }

 private:
  EventBus* const bus_;
  std::shared_ptr<WatchState> state_;
};

void WatchState::Pump() {
  EventStream* target = nullptr;
  const v1::Event* next = nullptr;
  grpc::Status status;
  {
    absl::MutexLock lock(&mu);
    if (reactor == nullptr || subscription == nullptr || writing || finished) return;
    if (!finishing && still_authorized) {
      grpc::Status authorized = still_authorized();
      if (!authorized.ok()) {
        finishing = true;
        finish_status = authorized;
      }
    }
    if (!finishing) {
      v1::Event e;
      while (subscription->Pop(&e)) {
        if (!EventMatches(filter, e)) {
          skipped_dropped += e.dropped();
          continue;
        }
        e.set_dropped(e.dropped() + skipped_dropped);
        skipped_dropped = 0;
        out = std::move(e);
        next = &out;
        writing = true;
        break;
      }
      if (next == nullptr && subscription->closed()) {
        finishing = true;
        finish_status = grpc::Status(grpc::StatusCode::UNAVAILABLE, "server shutting down");
      }
    }
    if (next == nullptr) {
      if (!finishing) return;
      finished = true;
      status = finish_status;
    }
    target = reactor;
  }
  if (next != nullptr) {
    target->StartWrite(next);
  } else {
    target->Finish(status);
  }
}

}  // namespace

bool EventMatches(const v1::WatchEventsRequest& filter, const v1::Event& event) {
  if (filter.kinds_size() > 0 &&
      std::find(filter.kinds().begin(), filter.kinds().end(), event.kind()) ==
          filter.kinds().end()) {
    return false;
  }
  return filter.node().empty() || event.node().empty() || event.node() == filter.node();
}

grpc::ServerWriteReactor<v1::Event>* NewEventStream(
    EventBus* bus, const v1::WatchEventsRequest& request,
    std::function<grpc::Status()> still_authorized) {
  return new EventStream(bus, request, std::move(still_authorized));
}

}  // namespace plumb
