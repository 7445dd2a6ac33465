#include "server/sync/agent_session.h"

namespace plumb {

void AgentSession::Attach(StreamWriter* writer) {
  absl::MutexLock lock(&mu_);
  writer_ = writer;
}

void AgentSession::Send(v1::ServerMessage msg) {
  Outbound out;
  out.msg = std::move(msg);
  Enqueue(std::move(out));
}

void AgentSession::SendUpdate(std::shared_ptr<const SharedUpdate> update, std::string nonce) {
  Outbound out;
  out.shared = std::move(update);
  out.nonce = std::move(nonce);
  Enqueue(std::move(out));
}

void AgentSession::Enqueue(Outbound out) {
  {
    absl::MutexLock lock(&mu_);
    if (writer_ == nullptr || finishing_) return;
    outbox_.push_back(std::move(out));
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

void AgentSession::AllowBlobs(std::shared_ptr<const OfferedBlobs> blobs) {
  std::shared_ptr<const OfferedBlobs> dropped;  // released outside the lock
  absl::MutexLock lock(&mu_);
  // The previous catalog's blobs stay fetchable: an agent may still be finishing it.
  dropped = std::move(previous_blobs_);
  previous_blobs_ = std::move(allowed_blobs_);
  allowed_blobs_ = std::move(blobs);
}

bool AgentSession::MayFetch(const std::string& digest) const {
  absl::MutexLock lock(&mu_);
  return (allowed_blobs_ != nullptr && allowed_blobs_->Names(digest)) ||
         (previous_blobs_ != nullptr && previous_blobs_->Names(digest));
}

std::shared_ptr<const OfferedBlobs> AgentSession::offered_blobs() const {
  absl::MutexLock lock(&mu_);
  return allowed_blobs_;
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
  Outbound* next = nullptr;
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
  if (next != nullptr) {
    // The front element stays put until OnWriteDone pops it, and only this write touches it.
    if (next->shared == nullptr) {
      writer->StartWrite(&next->msg);
    } else if (!writer->StartSharedWrite(*next->shared, next->nonce)) {
      next->msg = next->shared->Message(next->nonce);
      writer->StartWrite(&next->msg);
    }
  }
  if (finish) writer->Finish(status);
}

}  // namespace plumb
