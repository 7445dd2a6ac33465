// The invariants agent_stream_fuzzer checks after each step (see agent_stream_fuzzer.cc).

#include <algorithm>
#include <optional>

#include "absl/strings/numbers.h"
#include "common/digest.h"
#include "server/sync/agent_service.h"
#include "tests/fuzz/agent_stream_script.h"

namespace plumb::fuzz {

void AgentStreamScript::Drain() {
  f_.hub().Drain();
  for (StreamModel& s : streams_) CheckReceived(s);
  for (const std::string& node : revoked_) {
    auto stored = f_.store->GetNode(node);
    if (stored.ok() && stored->status() != v1::NODE_REVOKED) {
      Violation("revoked node " + node + " has status " + v1::NodeStatus_Name(stored->status()));
    }
  }
}

void AgentStreamScript::CheckReceived(StreamModel& s) {
  const AgentSession& session = *s.fake->session();
  if (session.sync().greeted() && !session.verified_node.empty() &&
      session.sync().inputs().name != session.verified_node) {
    Violation("a stream with certificate " + session.verified_node + " speaks for another node");
  }
  for (const auto& [key, value] : session.bound_labels) {
    auto label = session.sync().inputs().labels.find(key);
    if (session.sync().greeted() && (label == session.sync().inputs().labels.end() || label->second != value)) {
      Violation("a bound label was overridden by Hello");
    }
  }
  for (const v1::ServerMessage& msg : s.fake->TakeWritten()) {
    if (msg.has_report_ack()) {
      if (s.reports_sent.count(msg.report_ack().report_id()) == 0) {
        Violation("ReportAck for a report this stream never sent");
      }
      if (!f_.store->GetReport(msg.report_ack().report_id()).ok()) {
        Violation("a report was acknowledged but is not stored");
      }
    }
    if (msg.has_run() && std::find(request_ids_.begin(), request_ids_.end(),
                                   msg.run().request_id()) == request_ids_.end()) {
      Violation("RunRequest with an id nobody asked for");
    }
    if (!msg.has_update()) continue;
    const v1::CatalogUpdate& update = msg.update();
    if (!session.sync().greeted()) Violation("an update before Hello");
    uint64_t nonce = 0;
    if (!absl::SimpleAtoi(update.nonce(), &nonce) || nonce <= s.last_nonce) {
      Violation("update nonce is not fresh: " + update.nonce());
    }
    if (!s.outstanding.empty() && s.answered.count(s.outstanding) == 0) {
      Violation("a second update while nonce " + s.outstanding + " was unanswered");
    }
    s.last_nonce = nonce;
    s.outstanding = update.nonce();
    s.nonces.push_back(update.nonce());
    digests_.push_back(update.catalog_digest());
    for (const v1::Resource& r : update.upserted()) {
      versions_.push_back(r.version());
      if (r.id() == kNodeFileId &&
          r.content_digest() != AgentStreamFixture::NodeFileDigest(session.sync().inputs().name)) {
        Violation("a stream got another node's catalog");
      }
      if (r.id() == kSecretId && session.sync().inputs().name != kSecretOwner) {
        Violation("node a's secret went to another node");
      }
    }
  }
}

void AgentStreamScript::CheckScrubbed(const StreamModel& s, const std::string& report_id) {
  auto catalog = f_.builder.Build(s.fake->session()->sync().inputs());
  auto stored = f_.store->GetReport(report_id);
  if (!catalog.ok() || !stored.ok()) return;
  bool sensitive = false;
  for (const v1::Resource& r : (*catalog)->resources()) {
    sensitive = sensitive || (r.id() == kSecretId && r.sensitive());
  }
  for (const v1::ResourceResult& r : stored->results()) {
    if (sensitive && r.id() == kSecretId && !r.diff().empty()) {
      Violation("a sensitive resource's diff was stored");
    }
  }
}

void AgentStreamScript::CheckBlob(StreamModel& s) {
  std::string digest = decoder_.Pick(
      {AgentStreamFixture::SecretDigest(), AgentStreamFixture::NodeFileDigest("a"),
       AgentStreamFixture::NodeFileDigest("b"), std::string(64, 'g'), std::string(63, 'a')},
      false);
  std::optional<std::string> node;  // nullopt: no client certificate
  if (fdp_.ConsumeIntegralInRange<int>(0, 7) != 0) node = s.fake->session()->verified_node;
  grpc::Status status = CheckBlobAccess(f_.hub(), secure_, node, digest);
  if (!IsSha256Hex(digest)) {
    if (status.error_code() != grpc::StatusCode::INVALID_ARGUMENT) Violation("bad digest passed");
    return;
  }
  if (!secure_) {
    if (!status.ok()) Violation("insecure GetBlob refused a well-formed digest");
    return;
  }
  if (!status.ok()) return;
  if (!node) Violation("GetBlob served a caller without a certificate");
  if (digest == AgentStreamFixture::SecretDigest() && *node != kSecretOwner) {
    Violation("GetBlob served node a's secret to " + *node);
  }
  for (const char* other : {"a", "b"}) {
    if (digest == AgentStreamFixture::NodeFileDigest(other) && *node != other) {
      Violation("GetBlob served another node's file");
    }
  }
}

void AgentStreamScript::CheckNothingLeft() {
  if (f_.hub().connected() != 0) Violation("the hub still counts streams that have ended");
  for (const std::string& node : AgentStreamFixture::NodeNames()) {
    if (f_.hub().MayFetchBlob(node, AgentStreamFixture::NodeFileDigest(node))) {
      Violation("an ended stream may still fetch blobs");
    }
  }
  for (const StreamModel& s : streams_) {
    if (s.fake->session().use_count() != 1) Violation("the hub holds an ended stream's session");
  }
}

}  // namespace plumb::fuzz
