#pragma once

// The agent's end of one AgentService.Sync stream plus GetBlob calls, over one channel.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/blob_cache.h"
#include "common/grpc_credentials.h"
#include "plumb/v1/agent.grpc.pb.h"

namespace plumb {

// Thread-safe: Send may be called from any thread while one thread Reads.
class SyncClient {
 public:
  SyncClient(std::shared_ptr<grpc::Channel> channel);
  ~SyncClient();

  // Opens the stream, waiting at most `connect_timeout` for the channel to become ready. The
  // stream ends by itself after `stream_deadline` (for --once).
  absl::Status Open(absl::Duration connect_timeout,
                    absl::Duration stream_deadline = absl::InfiniteDuration());
  // False once the stream is broken or closed.
  bool Send(const v1::AgentMessage& msg);
  // Blocks for the next message; false when the stream ended (then Finish() gives why).
  bool Read(v1::ServerMessage* msg);
  // Half-closes and collects the final status.
  absl::Status Finish();
  // Breaks a blocked Read from another thread (shutdown).
  void Cancel();
  bool open() const;

  // Fetches every digest in `digests` that `cache` lacks, verifying each.
  absl::Status FetchBlobs(const std::vector<std::string>& digests, BlobCache* cache);

 private:
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::AgentService::Stub> stub_;
  mutable absl::Mutex mu_;
  std::unique_ptr<grpc::ClientContext> context_ ABSL_GUARDED_BY(mu_);
  std::unique_ptr<grpc::ClientReaderWriter<v1::AgentMessage, v1::ServerMessage>> stream_;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
  absl::Mutex write_mu_;  // one Write at a time
};

}  // namespace plumb
