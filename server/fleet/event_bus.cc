#include "server/fleet/event_bus.h"

#include <algorithm>

#include "absl/strings/ascii.h"

namespace plumb {

bool EventSubscription::Pop(v1::Event* event) {
  absl::MutexLock lock(&mu_);
  if (queue_.empty()) return false;
  *event = std::move(queue_.front());
  queue_.pop_front();
  if (dropped_pending_ > 0) {
    event->set_dropped(dropped_pending_);
    dropped_pending_ = 0;
  }
  return true;
}

bool EventSubscription::WaitPop(v1::Event* event, absl::Duration timeout) {
  {
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !queue_.empty() || closed_; };
    if (!mu_.AwaitWithTimeout(absl::Condition(&ready), timeout)) return false;
  }
  return Pop(event);
}

int64_t EventSubscription::dropped_total() const {
  absl::MutexLock lock(&mu_);
  return dropped_total_;
}

void EventSubscription::Push(const v1::Event& event) {
  absl::MutexLock lock(&mu_);
  if (capacity_ == 0) {
    ++dropped_pending_;
    ++dropped_total_;
    return;
  }
  // Drop the oldest: a watcher that catches up sees the latest state, with a gap marker.
  while (queue_.size() >= capacity_) {
    queue_.pop_front();
    ++dropped_pending_;
    ++dropped_total_;
  }
  queue_.push_back(event);
}

void EventSubscription::NotifyReady() const {
  if (on_ready_) on_ready_();
}

bool EventSubscription::closed() const {
  absl::MutexLock lock(&mu_);
  return closed_;
}

void EventSubscription::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

std::shared_ptr<EventSubscription> EventBus::Subscribe(std::function<void()> on_ready) {
  auto sub = std::make_shared<EventSubscription>(buffer_, std::move(on_ready));
  absl::MutexLock lock(&mu_);
  if (shut_down_) {
    sub->Close();
  } else {
    subscribers_.push_back(sub);
  }
  return sub;
}

void EventBus::Unsubscribe(const std::shared_ptr<EventSubscription>& subscription) {
  absl::MutexLock lock(&mu_);
  subscribers_.erase(std::remove(subscribers_.begin(), subscribers_.end(), subscription),
                     subscribers_.end());
}

void EventBus::Publish(v1::Event event) {
  std::function<void(const v1::Event&)> relay;
  {
    absl::MutexLock lock(&mu_);
    relay = relay_;
  }
  if (relay) {
    if (event.unix_ms() == 0) event.set_unix_ms(absl::ToUnixMillis(clock_->Now()));
    relay(event);
  }
  PublishRemote(std::move(event));
}

void EventBus::set_relay(std::function<void(const v1::Event&)> relay) {
  absl::MutexLock lock(&mu_);
  relay_ = std::move(relay);
}

void EventBus::PublishRemote(v1::Event event) {
  std::vector<std::shared_ptr<EventSubscription>> targets;
  {
    // Numbering and buffering under one lock keeps every subscriber's order equal to seq order.
    absl::MutexLock lock(&mu_);
    event.set_seq(next_seq_++);
    if (event.unix_ms() == 0) event.set_unix_ms(absl::ToUnixMillis(clock_->Now()));
    targets = subscribers_;
    for (const auto& sub : targets) sub->Push(event);
  }
  for (const auto& sub : targets) sub->NotifyReady();
}

void EventBus::Shutdown() {
  std::vector<std::shared_ptr<EventSubscription>> subs;
  {
    absl::MutexLock lock(&mu_);
    shut_down_ = true;
    subs.swap(subscribers_);
  }
  for (const auto& sub : subs) {
    sub->Close();
    sub->NotifyReady();
  }
}

int EventBus::subscribers() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(subscribers_.size());
}

int64_t EventBus::published() const {
  absl::MutexLock lock(&mu_);
  return next_seq_ - 1;
}

v1::Event MakeEvent(v1::EventKind kind, const std::string& node, const std::string& revision,
                    const std::string& message) {
  v1::Event e;
  e.set_kind(kind);
  e.set_node(node);
  e.set_revision(revision);
  e.set_message(message);
  return e;
}

std::string EventKindName(v1::EventKind kind) {
  std::string name = v1::EventKind_Name(kind);
  if (name.rfind("EVENT_", 0) == 0) name = name.substr(6);
  return absl::AsciiStrToLower(name);
}

}  // namespace plumb
