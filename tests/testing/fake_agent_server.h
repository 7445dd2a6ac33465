#pragma once

// A small AgentService on 127.0.0.1:0 for driving a real agent in tests: it speaks the Sync
// protocol well enough (answers Hello with the delta to its catalog, serves blobs, acknowledges
// reports) and can misbehave on request (drop streams, withhold ReportAcks, refuse streams, go
// away). It records what the agent sends, and tests wait on that with a bounded deadline.

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"
#include "plumb/v1/agent.grpc.pb.h"

namespace plumb::testing {

// What the agent has sent so far, in arrival order.
struct AgentTraffic {
  std::vector<v1::Hello> hellos;
  std::vector<v1::Ack> acks;
  std::vector<v1::Report> reports;
  std::vector<v1::NoopResult> noop_results;
  int heartbeats = 0;
  int streams_opened = 0;
  int open_streams = 0;
};

// Thread-safe.
class FakeAgentServer {
 public:
  FakeAgentServer();
  ~FakeAgentServer();

  // Listens on 127.0.0.1 (on the port of the previous Start, if any, so a restarted fake is
  // found at the same address).
  absl::Status Start();
  // Ends every stream and stops listening: the server is gone.
  void Shutdown();
  std::string address() const;

  // The catalog a Hello is answered with (the delta from the versions the Hello names). Its
  // resources must carry versions and the catalog its digest (SealCatalog). No catalog set:
  // Hellos are not answered.
  void SetCatalog(const v1::Catalog& catalog);
  // Stores a blob for GetBlob; returns its digest.
  std::string PutBlob(const std::string& content);
  // Ends every stream right after its Hello (UNAVAILABLE), before answering it.
  void set_drop_after_hello(bool drop);
  // Whether reports are answered with a ReportAck (the default).
  void set_ack_reports(bool ack);

  // Sends `msg` on every open stream. Returns how many streams it went to.
  int Send(const v1::ServerMessage& msg);
  // Cancels every open stream (the agent sees the stream break).
  void DropStreams();

  AgentTraffic traffic();
  // Waits (real time, at most `timeout`) until `done` holds over the traffic. Returns whether
  // it did.
  bool WaitFor(std::function<bool(const AgentTraffic&)> done,
               absl::Duration timeout = absl::Seconds(30));

 private:
  class Service;
  friend class Service;

  // One open Sync stream; writes are serialized by mu_.
  struct Stream {
    grpc::ServerContext* context;
    grpc::ServerReaderWriter<v1::ServerMessage, v1::AgentMessage>* stream;
  };

  grpc::Status ServeSync(grpc::ServerContext* context,
                         grpc::ServerReaderWriter<v1::ServerMessage, v1::AgentMessage>* stream);
  // Records `msg` and answers it. False: end the stream.
  bool Handle(Stream* stream, const v1::AgentMessage& msg) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  grpc::Status ServeBlob(const v1::GetBlobRequest& request, grpc::ServerWriter<v1::BlobChunk>* out);

  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  mutable absl::Mutex mu_;
  AgentTraffic traffic_ ABSL_GUARDED_BY(mu_);
  std::vector<Stream*> streams_ ABSL_GUARDED_BY(mu_);
  bool has_catalog_ ABSL_GUARDED_BY(mu_) = false;
  v1::Catalog catalog_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> blobs_ ABSL_GUARDED_BY(mu_);
  bool drop_after_hello_ ABSL_GUARDED_BY(mu_) = false;
  bool ack_reports_ ABSL_GUARDED_BY(mu_) = true;
  int next_nonce_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace plumb::testing
