#include "server/console/console_events.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "server/console/console_text.h"
#include "server/http/http_request.h"

namespace plumb {

ConsoleEvents::ConsoleEvents(EventBus* bus, ConsoleSessions* sessions,
                             ConsoleEventsOptions options,
                             std::function<bool(const std::string&)> credential_valid)
    : bus_(bus), sessions_(sessions), options_(options),
      credential_valid_(std::move(credential_valid)) {
  subscription_ = bus_->Subscribe([this] {
    absl::MutexLock lock(&mu_);
    ready_ = true;
  });
  thread_ = std::thread([this] { Run(); });
}

ConsoleEvents::~ConsoleEvents() { Stop(); }

void ConsoleEvents::Stop() {
  {
    absl::MutexLock lock(&mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  if (subscription_ != nullptr) {
    bus_->Unsubscribe(subscription_);
    subscription_.reset();
  }
}

size_t ConsoleEvents::clients() const {
  absl::MutexLock lock(&mu_);
  return open_;
}

void ConsoleEvents::Add(std::unique_ptr<TlsStream> stream, const std::string& session_id) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_ && open_ < options_.max_clients) {
      ++open_;
    } else {
      LogWarning("console event stream refused: too many", {{"peer", stream->peer()}});
      stream->WriteAll(SerializeResponse(TextResponse(503, "too many event streams"), false,
                                         false),
                       options_.write_timeout);
      return;
    }
  }
  std::string head = absl::StrCat(
      "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
      "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\nretry: ",
      options_.retry_ms, "\n: connected\n\n");
  bool ok = stream->WriteAll(head, options_.write_timeout);
  absl::MutexLock lock(&mu_);
  if (!ok || stopping_) {
    --open_;
    return;
  }
  joining_.push_back({std::move(stream), session_id});
  ready_ = true;  // wakes the thread to take it over
}

std::string ConsoleEvents::Frame(const v1::Event& event) {
  std::string kind = EventKindName(event.kind());
  std::string data = absl::StrCat(
      "{\"seq\":", event.seq(), ",\"kind\":", JsonString(kind), ",\"node\":",
      JsonString(event.node()), ",\"revision\":", JsonString(event.revision()),
      ",\"message\":", JsonString(event.message()), ",\"unix_ms\":", event.unix_ms(), "}");
  // JsonString escapes control characters, so data is one line.
  return absl::StrCat("id: ", event.seq(), "\ndata: ", data, "\n\n");
}

void ConsoleEvents::Broadcast(std::vector<Client>* clients, const std::string& data) {
  size_t before = clients->size();
  for (auto it = clients->begin(); it != clients->end();) {
    std::optional<ConsoleSession> session = sessions_->Find(it->session_id);
    bool signed_in = session.has_value() &&
                     (session->credential.empty() || !credential_valid_ ||
                      credential_valid_(session->credential));
    bool live = signed_in && it->stream->WriteAll(data, options_.write_timeout);
    if (!live) {
      LogInfo("console event stream closed", {{"peer", it->stream->peer()},
                                               {"why", signed_in ? "write failed" : "signed out"}});
    }
    it = live ? std::next(it) : clients->erase(it);  // erasing closes the stream
  }
  absl::MutexLock lock(&mu_);
  open_ -= before - clients->size();
}

void ConsoleEvents::Run() {
  BlockSigpipeOnThisThread();
  std::vector<Client> clients;  // only this thread touches it
  absl::Time next_ping = absl::Now() + options_.ping_interval;
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithDeadline(absl::Condition(
                                +[](ConsoleEvents* e) ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) {
                                  return e->ready_ || e->stopping_;
                                },
                                this),
                            next_ping);
      if (stopping_) break;
      ready_ = false;
      for (Client& c : joining_) clients.push_back(std::move(c));
      joining_.clear();
    }
    std::string frames;
    v1::Event event;
    while (subscription_->Pop(&event)) absl::StrAppend(&frames, Frame(event));
    if (absl::Now() >= next_ping) {
      absl::StrAppend(&frames, ": ping\n\n");
      next_ping = absl::Now() + options_.ping_interval;
    }
    if (!frames.empty()) Broadcast(&clients, frames);
  }
  clients.clear();  // each stream's destructor sends close_notify and closes
  absl::MutexLock lock(&mu_);
  joining_.clear();
  open_ = 0;
}

}  // namespace plumb
