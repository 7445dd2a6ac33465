#include "server/sync/agent_session.h"

namespace plumb {

void AgentSession::Attach(StreamWriter* writer) {
  absl::MutexLock lock(&mu_);
  writer_ = writer;
}

void AgentSession::Send(v1::ServerMessage msg) {
  {
    absl::MutexLock lock(&mu_);
    if (writer_ == nullptr || finishing_) return;
    outbox_.push_back(std::move(msg));
  }
  Pump();
}

void AgentSession::Close(grpc::Status status) {
  {
    absl::MutexLock lock(&mu_);
    if (writer_ == nullptr || finishing_) return;
    finishing_ = true;
    finish_status_ = std::move(status);
  }
  Pump();
}

void AgentSession::OnReadsDone() { Close(grpc::Status::OK); }

bool AgentSession::closing() const {
  absl::MutexLock lock(&mu_);
  return finishing_ || finished_ || writer_ == nullptr;
}

void AgentSession::OnWriteDone(bool ok) {
  {
    absl::MutexLock lock(&mu_);
    writing_ = false;
    if (!outbox_.empty()) outbox_.pop_front();
    if (!ok) {
      // The stream is broken: nothing more will be written; finish so OnDone can come.
      outbox_.clear();
      if (!finishing_) {
        finishing_ = true;
        finish_status_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed");
      }
    }
  }
  Pump();
}

void AgentSession::AllowBlobs(std::set<std::string> digests) {
  absl::MutexLock lock(&mu_);
  // The previous catalog's blobs stay fetchable: an agent may still be finishing it.
  previous_blobs_ = std::move(allowed_blobs_);
  allowed_blobs_ = std::move(digests);
}

bool AgentSession::MayFetch(const std::string& digest) const {
  absl::MutexLock lock(&mu_);
  return allowed_blobs_.count(digest) > 0 || previous_blobs_.count(digest) > 0;
}

int AgentSession::OnMessageQueued() {
  absl::MutexLock lock(&mu_);
  return ++queued_;
}

bool AgentSession::MayReadNext() {
  absl::MutexLock lock(&mu_);
  if (queued_ < kMaxQueuedMessages) return true;
  read_paused_ = true;
  return false;
}

void AgentSession::OnMessageHandled() {
  StreamWriter* writer = nullptr;
  {
    absl::MutexLock lock(&mu_);
    --queued_;
    if (!read_paused_ || queued_ >= kMaxQueuedMessages) return;
    read_paused_ = false;
    // A closing stream reads no more: its pending Finish ends it.
    if (writer_ == nullptr || finishing_ || finished_) return;
    resuming_read_ = true;
    writer = writer_;
  }
  writer->ReadNext();
  {
    absl::MutexLock lock(&mu_);
    resuming_read_ = false;
  }
  Pump();  // a Close that came meanwhile waited for us
}

void AgentSession::Detach() {
  absl::MutexLock lock(&mu_);
  writer_ = nullptr;
  outbox_.clear();
}

void AgentSession::Pump() {
  // Decide under the lock, act outside it: a reaction may run inline from StartWrite/Finish.
  StreamWriter* writer = nullptr;
  const v1::ServerMessage* next = nullptr;
  bool finish = false;
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (writer_ == nullptr || writing_ || finished_) return;
    if (finishing_ && resuming_read_) return;  // OnMessageHandled calls Pump when done
    if (!outbox_.empty() && !finishing_) {
      writing_ = true;
      next = &outbox_.front();  // deque keeps element addresses stable on push_back
    } else if (finishing_) {
      finished_ = true;
      finish = true;
      status = finish_status_;
    } else {
      return;
    }
    writer = writer_;
  }
  if (next != nullptr) writer->StartWrite(next);
  if (finish) writer->Finish(status);
}

}  // namespace plumb
