#pragma once

// plumb.v1.AgentService on gRPC's callback API: one reactor per Sync stream (no thread per
// stream), handing every message to the StreamHub; GetBlob streams file contents in chunks.
// Enroll and Renew are rare, short and touch SQLite: gRPC's synchronous pool serves them.
// With TLS, the node is the verified client certificate's CN (CallAuthorizer has already
// refused calls without an unrevoked agent certificate), never what Hello says.

#include <optional>
#include <string>

#include "plumb/v1/agent.grpc.pb.h"
#include "common/clock.h"
#include "server/rollout/live_revisions.h"
#include "server/sync/catalog_builder.h"
#include "server/security/renew_limiter.h"
#include "server/security/server_security.h"
#include "server/sync/stream_hub.h"

namespace plumb {

// Thread-safe. Nothing is owned; all must outlive the gRPC server. Without `security`
// (--insecure) Hello names the node and Enroll/Renew answer UNIMPLEMENTED.
// Sync is a raw (ByteBuffer) method so that an update shared by many agents is serialized once
// (SharedUpdate); its messages are parsed and serialized in the reactor.
class AgentServiceImpl : public v1::AgentService::WithRawCallbackMethod_Sync<
                             v1::AgentService::WithCallbackMethod_GetBlob<
                                 v1::AgentService::Service>> {
 public:
  // `clock` (null: the system clock) times the Renew rate limit.
  AgentServiceImpl(StreamHub* hub, CatalogBuilder* builder, ServerSecurity* security = nullptr,
                   Clock* clock = nullptr)
      : hub_(hub), builder_(builder), security_(security),
        renew_limiter_(clock != nullptr ? clock : &system_clock_) {}

  grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* Sync(
      grpc::CallbackServerContext* context) override;
  grpc::ServerWriteReactor<v1::BlobChunk>* GetBlob(grpc::CallbackServerContext* context,
                                                   const v1::GetBlobRequest* request) override;
  grpc::Status Enroll(grpc::ServerContext* context, const v1::EnrollRequest* request,
                      v1::EnrollResponse* response) override;
  grpc::Status Renew(grpc::ServerContext* context, const v1::RenewRequest* request,
                     v1::EnrollResponse* response) override;

  static constexpr size_t kBlobChunkBytes = 256 * 1024;

  // Blobs of the revisions a rollout serves besides the newest one are fetchable too. Not
  // owned; set before the server starts.
  void set_live_revisions(const LiveRevisions* live) { live_ = live; }
  // Where blobs come from when set (every environment's live revisions); else as above.
  using BlobSource =
      std::function<absl::StatusOr<std::shared_ptr<const std::string>>(const std::string&)>;
  void set_blob_source(BlobSource source) { blob_source_ = std::move(source); }

 private:
  StreamHub* const hub_;
  CatalogBuilder* const builder_;
  ServerSecurity* const security_;
  const LiveRevisions* live_ = nullptr;
  BlobSource blob_source_;
  SystemClock system_clock_;
  RenewLimiter renew_limiter_;  // at most one Renew per node and minute
};

// Sets `session`'s identity before its first message, as Sync does: with `secure` (TLS), the
// node is the client certificate's CN and the labels bound to it at enrollment
// (`identities`; null: none) override Hello's. Without `secure`, Hello names the node.
// UNAUTHENTICATED, leaving `session` untouched, if `secure` and there is no certificate or its
// CN is empty.
grpc::Status SetPeerIdentity(bool secure, const std::optional<CertInfo>& cert,
                             const IdentityStore* identities, AgentSession* session);

// The check every Sync message passes before the hub sees it (common/wire_limits.h), so a
// message over a limit affects no other node. Over a limit: logs one line, closes `session`
// with INVALID_ARGUMENT naming the field, and returns false; the reactor reads no more.
bool AdmitAgentMessage(AgentSession* session, const v1::AgentMessage& msg);

// The checks GetBlob makes before serving `digest`: INVALID_ARGUMENT unless it is 64 lowercase
// hex characters; with `secure` (TLS), PERMISSION_DENIED unless `node` (the client
// certificate's CN; nullopt without one) has an open stream whose latest catalogs name it, or
// an outstanding noop sample whose candidate catalog names it.
grpc::Status CheckBlobAccess(const StreamHub& hub, bool secure,
                             const std::optional<std::string>& node, const std::string& digest);

}  // namespace plumb
