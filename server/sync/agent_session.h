#pragma once

// One agent's Sync stream as the server sees it. The gRPC reactor (AgentStream, in
// agent_service.cc) feeds it messages and drains its outbox; the StreamHub's worker thread
// owns the protocol state. Shared between the two with shared_ptr so that neither outlives
// the other's use of it.

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/compiler/compiler.h"
#include "grpcpp/grpcpp.h"
#include "plumb/v1/agent.pb.h"
#include "server/sync/offered_blobs.h"
#include "server/sync/shared_update.h"
#include "server/sync/sync_state.h"

namespace plumb {

// The reactor side of a session: how the session starts writes and finishes the stream.
class StreamWriter {
 public:
  virtual ~StreamWriter() = default;
  virtual void StartWrite(const v1::ServerMessage* msg) = 0;
  // Starts writing the ServerMessage carrying `update` with `nonce` as its bytes (prefix, then
  // the shared body) and returns true; `update` stays alive until the write is done. Writers
  // that take typed messages only (the hub's tests, the fuzzer) return false: the session then
  // hands them the typed message through StartWrite.
  virtual bool StartSharedWrite(const SharedUpdate& /*update*/, const std::string& /*nonce*/) {
    return false;
  }
  virtual void Finish(grpc::Status status) = 0;
  // Starts the next read after the session paused reading (see AgentSession::MayReadNext).
  // Called at most once per pause, with no lock held, never after Finish. Writers that do not
  // read (the hub's tests and fuzzer) ignore it.
  virtual void ReadNext() {}
};

// Thread-safe for Send/Close and flow control; sync() (the protocol's state) is touched only on
// the hub's worker thread.
class AgentSession {
 public:
  explicit AgentSession(std::string peer) : peer_(std::move(peer)) {}

  // Queues a message; at most one write is in flight. Dropped once the stream is closing.
  void Send(v1::ServerMessage msg);
  // The same for a catalog update whose serialized body is shared with other sessions.
  void SendUpdate(std::shared_ptr<const SharedUpdate> update, std::string nonce);
  // Ends the stream with `status` once the write in flight (if any) is done.
  void Close(grpc::Status status);
  // True once Close was called (or the reactor is gone): messages still queued from this
  // stream are not handled.
  bool closing() const;

  // Reactor hooks.
  void Attach(StreamWriter* writer);
  void OnWriteDone(bool ok);
  void OnReadsDone();  // the agent half-closed or the stream broke
  void Detach();       // OnDone: the reactor is about to be deleted

  const std::string& peer() const { return peer_; }

  // ---- read flow control (thread-safe) ----
  // At most this many of the stream's messages wait for (or are being handled by) the hub's
  // worker, a report waiting to be stored again included. While that many do, the reactor
  // reads nothing more, so gRPC's flow control slows a flooding agent down instead of the
  // server buffering its flood ahead of every other agent's messages.
  static constexpr int kMaxQueuedMessages = 4;
  // The hub took one of this stream's messages for its worker. Returns how many are queued now.
  int OnMessageQueued();
  // The reactor, having handed a message over: true if it may start the next read now. False
  // pauses reading; OnMessageHandled resumes it (writer->ReadNext()) once there is room.
  bool MayReadNext();
  // The hub's worker is done with one queued message.
  void OnMessageHandled();

  // Blobs this session's agent may fetch: those its latest two catalogs offered name (GetBlob
  // checks), kept pinned meanwhile. `blobs` is shared with the other sessions offered the same
  // catalog.
  void AllowBlobs(std::shared_ptr<const OfferedBlobs> blobs);
  bool MayFetch(const std::string& digest) const;
  // The blobs of the latest catalog offered (null before any): tests and diagnosis.
  std::shared_ptr<const OfferedBlobs> offered_blobs() const;

  // ---- identity: set by the reactor before the first message, read-only afterwards ----
  // The node named by the verified client certificate (empty with --insecure: Hello decides).
  std::string verified_node;
  // Labels bound to the node at enrollment; they override Hello's.
  std::map<std::string, std::string> bound_labels;
  // Set when the node is enrolled here: the only label keys its Hello may add ("*": any).
  // Unset (--insecure, outside PKI): Hello's labels are taken (server/security/label_policy.h).
  std::optional<std::set<std::string>> hello_label_keys;

  // ---- the protocol's state: the hub's worker thread only (or threads it waits for, reading
  // it: StreamHub::OfferAll) ----
  SyncState& sync() { return sync_; }
  const SyncState& sync() const { return sync_; }

 private:
  // A queued message: typed, or a shared update and this stream's nonce.
  struct Outbound {
    v1::ServerMessage msg;  // unless `shared`; with it, filled only for a typed-only writer
    std::shared_ptr<const SharedUpdate> shared;
    std::string nonce;
  };
  // Queues `out` and pumps.
  void Enqueue(Outbound out);
  // Starts the next write or the pending finish; called with mu_ released.
  void Pump();

  const std::string peer_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const OfferedBlobs> allowed_blobs_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<const OfferedBlobs> previous_blobs_ ABSL_GUARDED_BY(mu_);
  StreamWriter* writer_ ABSL_GUARDED_BY(mu_) = nullptr;
  std::deque<Outbound> outbox_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finishing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
  int queued_ ABSL_GUARDED_BY(mu_) = 0;
  bool read_paused_ ABSL_GUARDED_BY(mu_) = false;
  // The worker is calling writer_->ReadNext(): Finish waits (like a write in flight), so the
  // reactor cannot be deleted under that call.
  bool resuming_read_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status finish_status_ ABSL_GUARDED_BY(mu_);
  SyncState sync_;
};

}  // namespace plumb
