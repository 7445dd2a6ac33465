#pragma once

// plumb.v1.AgentService on gRPC's callback API: one reactor per Sync stream (no thread per
// stream), handing every message to the StreamHub; GetBlob streams file contents in chunks.

#include "plumb/v1/agent.grpc.pb.h"
#include "server/catalog_builder.h"
#include "server/stream_hub.h"

namespace plumb {

// Thread-safe. `hub` and `builder` are not owned and must outlive the gRPC server.
class AgentServiceImpl : public v1::AgentService::CallbackService {
 public:
  AgentServiceImpl(StreamHub* hub, CatalogBuilder* builder) : hub_(hub), builder_(builder) {}

  grpc::ServerBidiReactor<v1::AgentMessage, v1::ServerMessage>* Sync(
      grpc::CallbackServerContext* context) override;
  grpc::ServerWriteReactor<v1::BlobChunk>* GetBlob(grpc::CallbackServerContext* context,
                                                   const v1::GetBlobRequest* request) override;

  static constexpr size_t kBlobChunkBytes = 256 * 1024;

 private:
  StreamHub* const hub_;
  CatalogBuilder* const builder_;
};

}  // namespace plumb
