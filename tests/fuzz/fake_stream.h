#pragma once

// The gRPC reactor side of one Sync stream, faked for agent_stream_fuzzer: records what the
// session writes and how it finishes, completes writes at once or when told, and traps on
// anything a real ServerBidiReactor would not allow (a second write in flight, a write or
// Finish after Finish, a call after OnDone, a message changed before its write completed).

#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "server/sync/agent_session.h"

namespace plumb::fuzz {

// Aborts with a message: a broken invariant is a finding, like a sanitizer report.
[[noreturn]] void Violation(const std::string& what);

// Thread-safe: the hub's worker starts writes and finishes; the fuzzer's thread completes
// writes and reads what was recorded.
class FakeStream : public StreamWriter {
 public:
  // `auto_complete`: each write completes (OnWriteDone(true)) inside StartWrite, as gRPC may
  // do inline; otherwise it stays in flight until CompleteWrite().
  FakeStream(std::shared_ptr<AgentSession> session, bool auto_complete)
      : session_(std::move(session)), auto_complete_(auto_complete) {}

  // Attaches to the session, as the reactor's constructor does once the identity is set.
  void Attach() { session_->Attach(this); }

  void StartWrite(const v1::ServerMessage* msg) override {
    {
      absl::MutexLock lock(&mu_);
      if (done_) Violation("StartWrite after OnDone");
      if (finished_) Violation("StartWrite after Finish");
      if (in_flight_ != nullptr) Violation("StartWrite with a write in flight");
      if (revoked_) Violation("a revoked node's stream got " + msg->ShortDebugString());
      in_flight_ = msg;
      in_flight_bytes_ = msg->SerializeAsString();
      written_.push_back(*msg);
      if (!auto_complete_) return;
    }
    CompleteWrite(true);
  }

  void Finish(grpc::Status status) override {
    absl::MutexLock lock(&mu_);
    if (done_) Violation("Finish after OnDone");
    if (finished_) Violation("Finish twice");
    if (in_flight_ != nullptr) Violation("Finish with a write in flight");
    finished_ = true;
    status_ = std::move(status);
  }

  // Completes the write in flight, if any, with `ok`. Returns false if none was in flight.
  bool CompleteWrite(bool ok) {
    {
      absl::MutexLock lock(&mu_);
      if (in_flight_ == nullptr) return false;
      // gRPC's contract: the message stays alive and unchanged until OnWriteDone.
      if (in_flight_->SerializeAsString() != in_flight_bytes_) {
        Violation("a message changed while its write was in flight");
      }
      in_flight_ = nullptr;
    }
    session_->OnWriteDone(ok);
    return true;
  }

  // OnDone: only once Finish was called and no write is in flight, as in gRPC.
  bool CanBeDone() const {
    absl::MutexLock lock(&mu_);
    return finished_ && in_flight_ == nullptr && !done_;
  }
  void MarkDone() {
    absl::MutexLock lock(&mu_);
    done_ = true;
  }

  // From now on any write is a violation: the node was revoked and the hub has been told.
  void MarkRevoked(bool revoked) {
    absl::MutexLock lock(&mu_);
    revoked_ = revoked;
  }

  // Messages written since the last call.
  std::vector<v1::ServerMessage> TakeWritten() {
    absl::MutexLock lock(&mu_);
    std::vector<v1::ServerMessage> out;
    out.swap(written_);
    return out;
  }

  bool finished() const {
    absl::MutexLock lock(&mu_);
    return finished_;
  }
  bool write_in_flight() const {
    absl::MutexLock lock(&mu_);
    return in_flight_ != nullptr;
  }
  bool done() const {
    absl::MutexLock lock(&mu_);
    return done_;
  }

  const std::shared_ptr<AgentSession>& session() const { return session_; }

 private:
  const std::shared_ptr<AgentSession> session_;
  const bool auto_complete_;
  mutable absl::Mutex mu_;
  const v1::ServerMessage* in_flight_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::string in_flight_bytes_ ABSL_GUARDED_BY(mu_);
  std::vector<v1::ServerMessage> written_ ABSL_GUARDED_BY(mu_);
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool revoked_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace plumb::fuzz
