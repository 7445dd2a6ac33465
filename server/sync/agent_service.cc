#include "server/sync/agent_service.h"

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "common/wire_limits.h"
#include "server/security/call_authorizer.h"

namespace plumb {
namespace {

// The reactor of one Sync stream. Reads one message at a time and hands it to the hub, pausing
// while the hub has AgentSession::kMaxQueuedMessages of them to handle; writes come from the
// session's outbox. Deletes itself in OnDone after detaching from the session. Raw bytes both
// ways: a message is parsed here, and a shared update's body is written without a copy.
class AgentStream : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>,
                    public StreamWriter {
 public:
  using Reactor = grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>;

  // `session`'s identity (verified node, bound labels) is already set: reads start now.
  AgentStream(StreamHub* hub, std::shared_ptr<AgentSession> session)
      : hub_(hub), session_(std::move(session)) {
    session_->Attach(this);
    StartRead(&in_);
  }

  // One write is in flight at a time (AgentSession): out_ is free again at OnWriteDone.
  void StartWrite(const v1::ServerMessage* msg) override {
    bool own_buffer = false;
    grpc::Status s =
        grpc::SerializationTraits<v1::ServerMessage>::Serialize(*msg, &out_, &own_buffer);
    PLUMB_CHECK(s.ok());  // only fails for messages over 2 GiB; ours are bounded by wire limits
    Reactor::StartWrite(&out_);
  }
  bool StartSharedWrite(const SharedUpdate& update, const std::string& nonce) override {
    grpc::Slice slices[2] = {grpc::Slice(update.Prefix(nonce)), update.body()};
    out_ = grpc::ByteBuffer(slices, 2);  // refers to the shared body: no copy of it
    Reactor::StartWrite(&out_);
    return true;
  }
  void Finish(grpc::Status status) override { Reactor::Finish(std::move(status)); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      session_->OnReadsDone();
      hub_->OnDisconnect(session_);
      return;
    }
    v1::AgentMessage msg;
    // Deserialize empties in_ whatever happens.
    if (!grpc::SerializationTraits<v1::AgentMessage>::Deserialize(&in_, &msg).ok()) {
      LogWarning("malformed agent message", {{"peer", session_->peer()}});
      session_->Close(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                                   "malformed AgentMessage"));
      return;  // no further reads; OnDone follows the finish
    }
    if (!AdmitAgentMessage(session_.get(), msg)) return;  // likewise
    hub_->OnMessage(session_, std::move(msg));
    if (session_->MayReadNext()) StartRead(&in_);
  }

  // The hub made room after a pause (called on its worker thread).
  void ReadNext() override { StartRead(&in_); }

  void OnWriteDone(bool ok) override {
    out_.Clear();  // no reference to the message (or a shared body) kept between writes
    session_->OnWriteDone(ok);
  }

  void OnDone() override {
    session_->Detach();
    hub_->OnDisconnect(session_);
    delete this;
  }

 private:
  StreamHub* const hub_;
  std::shared_ptr<AgentSession> session_;
  grpc::ByteBuffer in_;
  grpc::ByteBuffer out_;
};

// Streams one blob in chunks of kBlobChunkBytes, one write in flight.
class BlobWriter : public grpc::ServerWriteReactor<v1::BlobChunk> {
 public:
  explicit BlobWriter(std::shared_ptr<const std::string> blob) : blob_(std::move(blob)) { Next(); }
  explicit BlobWriter(grpc::Status error) { Finish(std::move(error)); }

  void OnWriteDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, "write failed"));
      return;
    }
    Next();
  }
  void OnDone() override { delete this; }

 private:
  void Next() {
    if (offset_ >= blob_->size() && offset_ > 0) {
      Finish(grpc::Status::OK);
      return;
    }
    size_t n = std::min(AgentServiceImpl::kBlobChunkBytes, blob_->size() - offset_);
    chunk_.set_data(blob_->data() + offset_, n);
    offset_ += n;
    if (n == 0) offset_ = 1;  // an empty blob is one empty chunk
    StartWrite(&chunk_);
  }

  std::shared_ptr<const std::string> blob_;
  size_t offset_ = 0;
  v1::BlobChunk chunk_;
};

}  // namespace

grpc::Status SetPeerIdentity(bool secure, const std::optional<CertInfo>& cert,
                             const IdentityStore* identities, AgentSession* session) {
  if (!secure) return grpc::Status::OK;
  // CallAuthorizer refuses calls without a certificate first; this is the second lock on the
  // door.
  if (!cert) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no client certificate");
  // An empty verified node would mean "Hello decides": a certificate must name its node.
  if (cert->common_name.empty()) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                        "the client certificate names no node (its CN is empty)");
  }
  session->verified_node = cert->common_name;
  std::optional<NodeIdentity> enrolled =
      identities != nullptr ? identities->Find(cert->common_name) : std::nullopt;
  if (enrolled) {
    session->bound_labels = enrolled->labels;
    session->hello_label_keys = enrolled->allowed_label_keys;
  }
  return grpc::Status::OK;
}

grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer>* AgentServiceImpl::Sync(
    grpc::CallbackServerContext* context) {
  std::optional<CertInfo> cert;
  if (security_ != nullptr) cert = PeerCertificate(*context->auth_context());
  auto session = std::make_shared<AgentSession>(context->peer());
  grpc::Status identity =
      SetPeerIdentity(security_ != nullptr, cert,
                      security_ != nullptr ? security_->identities() : nullptr, session.get());
  if (!identity.ok()) {
    class Refused : public grpc::ServerBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
     public:
      explicit Refused(grpc::Status status) { Finish(std::move(status)); }
      void OnDone() override { delete this; }
    };
    return new Refused(std::move(identity));
  }
  return new AgentStream(hub_, std::move(session));
}

bool AdmitAgentMessage(AgentSession* session, const v1::AgentMessage& msg) {
  absl::Status valid = wire::CheckAgentMessage(msg);
  if (valid.ok()) return true;
  LogWarning("agent message over a wire limit",
             {{"peer", session->peer()}, {"node", session->verified_node},
              {"error", valid.message()}});
  session->Close(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, std::string(valid.message())));
  return false;
}

grpc::Status CheckBlobAccess(const StreamHub& hub, bool secure,
                             const std::optional<std::string>& node, const std::string& digest) {
  if (!IsSha256Hex(digest)) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "digest must be 64 lowercase hex characters");
  }
  // A noop sample's candidate catalog (noop_requests.h) is fetchable by its node only, and
  // only while the plan waits for the answer.
  if (secure && (!node || (!hub.MayFetchBlob(*node, digest) &&
                           hub.noop_requests().Blob(*node, digest) == nullptr))) {
    return grpc::Status(
        grpc::StatusCode::PERMISSION_DENIED,
        absl::StrCat("blob ", digest.substr(0, 12),
                     " is not named by this node's catalog (or its stream is not open)"));
  }
  return grpc::Status::OK;
}

grpc::ServerWriteReactor<v1::BlobChunk>* AgentServiceImpl::GetBlob(
    grpc::CallbackServerContext* context, const v1::GetBlobRequest* request) {
  std::optional<std::string> node;
  if (security_ != nullptr) {
    std::optional<CertInfo> cert = PeerCertificate(*context->auth_context());
    if (cert) node = cert->common_name;
  }
  grpc::Status access = CheckBlobAccess(*hub_, security_ != nullptr, node, request->digest());
  if (!access.ok()) return new BlobWriter(std::move(access));
  if (auto sample = hub_->noop_requests().Blob(node, request->digest())) {
    return new BlobWriter(std::move(sample));
  }
  auto blob = blob_source_ ? blob_source_(request->digest())
              : live_ != nullptr ? live_->Blob(request->digest())
                                 : builder_->Blob(request->digest());
  if (!blob.ok()) {
    return new BlobWriter(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                       absl::StrCat("no blob ", request->digest())));
  }
  return new BlobWriter(*blob);
}

}  // namespace plumb

namespace plumb {

grpc::Status AgentServiceImpl::Enroll(grpc::ServerContext*, const v1::EnrollRequest* request,
                                      v1::EnrollResponse* response) {
  if (security_ == nullptr) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                        "this server runs with --insecure: there is nothing to enroll in");
  }
  auto enrolled = security_->enrollment()->Enroll(*request);
  if (!enrolled.ok()) return ToGrpcStatus(enrolled.status());
  *response = std::move(*enrolled);
  return grpc::Status::OK;
}

grpc::Status AgentServiceImpl::Renew(grpc::ServerContext* context,
                                     const v1::RenewRequest* request,
                                     v1::EnrollResponse* response) {
  if (security_ == nullptr) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "this server runs with --insecure");
  }
  std::optional<CertInfo> cert = PeerCertificate(*context->auth_context());
  if (!cert) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "no client certificate");
  absl::Status admitted = renew_limiter_.Admit(cert->common_name);
  if (!admitted.ok()) {
    LogWarning("renewal refused: rate limit", {{"node", cert->common_name}});
    return ToGrpcStatus(admitted);
  }
  auto renewed = security_->enrollment()->Renew(*cert, *request);
  if (!renewed.ok()) return ToGrpcStatus(renewed.status());
  *response = std::move(*renewed);
  return grpc::Status::OK;
}

}  // namespace plumb
