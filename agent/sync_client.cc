#include "agent/sync_client.h"

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"

namespace plumb {

SyncClient::SyncClient(std::shared_ptr<grpc::Channel> channel)
    : channel_(std::move(channel)), stub_(v1::AgentService::NewStub(channel_)) {}

SyncClient::~SyncClient() { Cancel(); }

absl::Status SyncClient::Open(absl::Duration connect_timeout, absl::Duration stream_deadline) {
  auto deadline = std::chrono::system_clock::now() +
                  std::chrono::milliseconds(absl::ToInt64Milliseconds(connect_timeout));
  if (!channel_->WaitForConnected(deadline)) {
    return absl::UnavailableError("server not reachable");
  }
  absl::MutexLock lock(&mu_);
  context_ = std::make_unique<grpc::ClientContext>();
  if (stream_deadline != absl::InfiniteDuration()) {
    context_->set_deadline(std::chrono::system_clock::now() +
                           std::chrono::milliseconds(absl::ToInt64Milliseconds(stream_deadline)));
  }
  stream_ = stub_->Sync(context_.get());
  open_ = stream_ != nullptr;
  return open_ ? absl::OkStatus() : absl::UnavailableError("cannot open Sync stream");
}

bool SyncClient::Send(const v1::AgentMessage& msg) {
  {
    absl::MutexLock lock(&mu_);
    if (!open_) return false;
  }
  absl::MutexLock lock(&write_mu_);
  return stream_->Write(msg);
}

bool SyncClient::Read(v1::ServerMessage* msg) {
  if (stream_ == nullptr) return false;
  bool ok = stream_->Read(msg);
  if (!ok) {
    absl::MutexLock lock(&mu_);
    open_ = false;
  }
  return ok;
}

absl::Status SyncClient::Finish() {
  if (stream_ == nullptr) return absl::OkStatus();
  {
    absl::MutexLock lock(&mu_);
    open_ = false;
  }
  {
    absl::MutexLock lock(&write_mu_);
    stream_->WritesDone();
  }
  grpc::Status status = stream_->Finish();
  return FromGrpcStatus(status);
}

void SyncClient::Cancel() {
  absl::MutexLock lock(&mu_);
  if (context_ != nullptr) context_->TryCancel();
}

bool SyncClient::open() const {
  absl::MutexLock lock(&mu_);
  return open_;
}

absl::Status SyncClient::FetchBlobs(const std::vector<std::string>& digests, BlobCache* cache) {
  for (const std::string& digest : digests) {
    if (cache->Has(digest)) continue;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::minutes(5));
    v1::GetBlobRequest req;
    req.set_digest(digest);
    auto reader = stub_->GetBlob(&ctx, req);
    std::string content;
    v1::BlobChunk chunk;
    while (reader->Read(&chunk)) content.append(chunk.data());
    grpc::Status status = reader->Finish();
    if (!status.ok()) {
      return absl::UnavailableError(
          absl::StrCat("cannot fetch blob ", digest.substr(0, 12), ": ", status.error_message()));
    }
    absl::Status put = cache->Put(digest, content);
    if (!put.ok()) return put;
  }
  return absl::OkStatus();
}

}  // namespace plumb
