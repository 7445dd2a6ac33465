#include "tests/testing/fake_agent_server.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/catalog.h"
#include "common/digest.h"

namespace plumb::testing {

// The gRPC face of the fake: hands every call to its owner.
class FakeAgentServer::Service : public v1::AgentService::Service {
 public:
  explicit Service(FakeAgentServer* owner) : owner_(owner) {}
  grpc::Status Sync(
      grpc::ServerContext* context,
      grpc::ServerReaderWriter<v1::ServerMessage, v1::AgentMessage>* stream) override {
    return owner_->ServeSync(context, stream);
  }
  grpc::Status GetBlob(grpc::ServerContext*, const v1::GetBlobRequest* request,
                       grpc::ServerWriter<v1::BlobChunk>* writer) override {
    return owner_->ServeBlob(*request, writer);
  }

 private:
  FakeAgentServer* const owner_;  // owns this service
};

FakeAgentServer::FakeAgentServer() = default;

FakeAgentServer::~FakeAgentServer() { Shutdown(); }

absl::Status FakeAgentServer::Start() {
  service_ = std::make_unique<Service>(this);
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort(absl::StrCat("127.0.0.1:", port_), grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
  if (server_ == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("fake server cannot listen on port ", port_));
  }
  port_ = port;
  return absl::OkStatus();
}

void FakeAgentServer::Shutdown() {
  if (server_ == nullptr) return;
  DropStreams();
  server_->Shutdown(std::chrono::system_clock::now());
  server_->Wait();
  server_.reset();
  service_.reset();
}

std::string FakeAgentServer::address() const { return absl::StrCat("127.0.0.1:", port_); }

void FakeAgentServer::SetCatalog(const v1::Catalog& catalog) {
  absl::MutexLock lock(&mu_);
  catalog_ = catalog;
  has_catalog_ = true;
}

std::string FakeAgentServer::PutBlob(const std::string& content) {
  absl::MutexLock lock(&mu_);
  std::string digest = Sha256Hex(content);
  blobs_[digest] = content;
  return digest;
}

void FakeAgentServer::set_drop_after_hello(bool drop) {
  absl::MutexLock lock(&mu_);
  drop_after_hello_ = drop;
}

void FakeAgentServer::set_ack_reports(bool ack) {
  absl::MutexLock lock(&mu_);
  ack_reports_ = ack;
}

int FakeAgentServer::Send(const v1::ServerMessage& msg) {
  absl::MutexLock lock(&mu_);
  int sent = 0;
  for (Stream* s : streams_) sent += s->stream->Write(msg) ? 1 : 0;
  return sent;
}

void FakeAgentServer::DropStreams() {
  absl::MutexLock lock(&mu_);
  for (Stream* s : streams_) s->context->TryCancel();
}

AgentTraffic FakeAgentServer::traffic() {
  absl::MutexLock lock(&mu_);
  return traffic_;
}

bool FakeAgentServer::WaitFor(std::function<bool(const AgentTraffic&)> done,
                              absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto holds = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return done(traffic_); };
  return mu_.AwaitWithTimeout(absl::Condition(&holds), timeout);
}

grpc::Status FakeAgentServer::ServeSync(
    grpc::ServerContext* context,
    grpc::ServerReaderWriter<v1::ServerMessage, v1::AgentMessage>* stream) {
  Stream self{context, stream};
  {
    absl::MutexLock lock(&mu_);
    streams_.push_back(&self);
    ++traffic_.streams_opened;
    ++traffic_.open_streams;
  }
  bool keep = true;
  v1::AgentMessage msg;
  while (keep && stream->Read(&msg)) {
    absl::MutexLock lock(&mu_);
    keep = Handle(&self, msg);
  }
  absl::MutexLock lock(&mu_);
  streams_.erase(std::find(streams_.begin(), streams_.end(), &self));
  --traffic_.open_streams;
  return keep ? grpc::Status::OK
              : grpc::Status(grpc::StatusCode::UNAVAILABLE, "dropped by the fake server");
}

bool FakeAgentServer::Handle(Stream* stream, const v1::AgentMessage& msg) {
  v1::ServerMessage answer;
  switch (msg.kind_case()) {
    case v1::AgentMessage::kHello: {
      traffic_.hellos.push_back(msg.hello());
      if (drop_after_hello_) return false;
      if (!has_catalog_) return true;
      std::map<std::string, std::string> held(msg.hello().resource_versions().begin(),
                                              msg.hello().resource_versions().end());
      *answer.mutable_update() = ComputeDelta(held, catalog_);
      answer.mutable_update()->set_nonce(absl::StrCat("nonce-", ++next_nonce_));
      break;
    }
    case v1::AgentMessage::kAck:
      traffic_.acks.push_back(msg.ack());
      return true;
    case v1::AgentMessage::kReport:
      traffic_.reports.push_back(msg.report());
      if (!ack_reports_) return true;
      answer.mutable_report_ack()->set_report_id(msg.report().id());
      break;
    case v1::AgentMessage::kHeartbeat:
      ++traffic_.heartbeats;
      return true;
    case v1::AgentMessage::kNoopResult:
      traffic_.noop_results.push_back(msg.noop_result());
      return true;
    default:
      return true;
  }
  stream->stream->Write(answer);
  return true;
}

grpc::Status FakeAgentServer::ServeBlob(const v1::GetBlobRequest& request,
                                        grpc::ServerWriter<v1::BlobChunk>* out) {
  std::string content;
  {
    absl::MutexLock lock(&mu_);
    auto it = blobs_.find(request.digest());
    if (it == blobs_.end()) return grpc::Status(grpc::StatusCode::NOT_FOUND, "no such blob");
    content = it->second;
  }
  constexpr size_t kChunk = 64 * 1024;
  for (size_t at = 0; at == 0 || at < content.size(); at += kChunk) {
    v1::BlobChunk chunk;
    chunk.set_data(content.substr(at, kChunk));
    if (!out->Write(chunk)) break;
  }
  return grpc::Status::OK;
}

}  // namespace plumb::testing
