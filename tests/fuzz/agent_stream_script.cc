#include "tests/fuzz/agent_stream_script.h"

#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <optional>

#include "absl/strings/escaping.h"
#include "common/pki/pki.h"
#include "common/wire_limits.h"
#include "server/sync/agent_service.h"

namespace plumb::fuzz {
namespace {

constexpr size_t kMaxStreams = 4;
constexpr int kMaxOps = 64;

}  // namespace

bool Tracing() {
  static const bool trace = std::getenv("PLUMB_FUZZ_TRACE") != nullptr;
  return trace;
}

void Trace(const std::string& line) {
  if (Tracing()) std::fprintf(stderr, "%s\n", absl::CHexEscape(line.substr(0, 300)).c_str());
}

void AgentStreamScript::Run() {
  secure_ = fdp_.ConsumeBool();
  // Messages are what matter most: half the operations send one.
  static constexpr Op kOps[] = {kOpen,     kSend,     kSend,      kSend, kSend, kSend,   kSend,
                                kSend,     kSend,     kSend,      kOpen, kDone, kComplete,
                                kComplete, kReadsDone, kRevision, kRun,  kRevoke, kBlob, kTick};
  for (int i = 0; i < kMaxOps && fdp_.remaining_bytes() > 0; ++i) {
    Step(kOps[fdp_.ConsumeIntegralInRange<size_t>(0, std::size(kOps) - 1)]);
  }
  EndAll();
}

StreamModel* AgentStreamScript::PickStream() {
  if (streams_.empty()) return nullptr;
  return &streams_[fdp_.ConsumeIntegralInRange<size_t>(0, streams_.size() - 1)];
}

void AgentStreamScript::Step(Op op) {
  if (Tracing()) Trace("op " + std::to_string(op) + ", streams " + std::to_string(streams_.size()));
  bool on_stream = op == kSend || op == kComplete || op == kReadsDone || op == kDone || op == kBlob;
  StreamModel* s = on_stream ? PickStream() : nullptr;
  if (on_stream && (s == nullptr || s->fake->done())) return;
  switch (op) {
    case kOpen:
      Open();
      break;
    case kSend:
      Send(*s);
      return;  // Send decides whether to drain
    case kComplete:
      s->fake->CompleteWrite(fdp_.ConsumeIntegralInRange<int>(0, 3) != 0);
      break;
    case kReadsDone:
      ReadsDone(*s);
      break;
    case kDone:
      // OnDone: only after Finish, and gRPC fails the pending read (OnReadDone(false)) first.
      if (!s->fake->CanBeDone()) break;
      ReadsDone(*s);
      s->fake->MarkDone();
      s->fake->session()->Detach();
      f_.hub().OnDisconnect(s->fake->session());
      break;
    case kRevision:
      f_.Serve(1 - f_.serving());
      break;
    case kRun:
      RequestRun();
      break;
    case kRevoke: {
      // RevokeNode reaches the hub only for an enrolled node, so never for an empty name.
      std::string node = decoder_.Pick(AgentStreamFixture::NodeNames(), false);
      if (!node.empty()) Revoke(node, fdp_.ConsumeIntegralInRange<int>(0, 3) != 0);
      break;
    }
    case kBlob:
      CheckBlob(*s);
      break;
    case kTick:
      f_.clock.Advance(absl::Milliseconds(fdp_.ConsumeIntegral<uint32_t>()));
      break;
  }
  Drain();
}

void AgentStreamScript::Open() {
  if (streams_.size() >= kMaxStreams) return;
  std::optional<CertInfo> cert;
  if (fdp_.ConsumeIntegralInRange<int>(0, 7) != 0) {
    cert.emplace();
    cert->common_name = decoder_.Pick(AgentStreamFixture::NodeNames(), false);
    cert->role = kRoleAgent;
  }
  // CallAuthorizer refuses a revoked node's certificate before any reactor exists.
  if (secure_ && cert && revoked_.count(cert->common_name) > 0) return;
  auto session = std::make_shared<AgentSession>("ipv4:127.0.0.1:1");
  grpc::Status identity = SetPeerIdentity(secure_, cert, nullptr, session.get());
  if (!identity.ok()) {
    if (!secure_ || (cert && !cert->common_name.empty())) Violation("a good identity refused");
    if (!session->verified_node.empty()) Violation("a refused identity was set");
    return;
  }
  if (secure_ && session->verified_node.empty()) Violation("a TLS stream without a node");
  if (secure_ && fdp_.ConsumeBool()) {
    // What SetPeerIdentity copies from an enrolled node's IdentityStore entry.
    session->bound_labels[decoder_.Pick({"role", "broken"}, false)] =
        decoder_.Pick({"web", "yes"}, false);
  }
  Trace("  open, certificate of " + session->verified_node);
  StreamModel s;
  s.fake = std::make_unique<FakeStream>(std::move(session), fdp_.ConsumeBool());
  s.fake->Attach();
  streams_.push_back(std::move(s));
}

void AgentStreamScript::ReadsDone(StreamModel& s) {
  if (s.reads_done) return;
  s.reads_done = true;
  s.fake->session()->OnReadsDone();
  f_.hub().OnDisconnect(s.fake->session());
}

void AgentStreamScript::Send(StreamModel& s) {
  if (s.reads_done) return;
  v1::AgentMessage msg = decoder_.Next(Hints(s));
  if (Tracing()) Trace("  send " + msg.ShortDebugString());
  bool garbage = fdp_.ConsumeIntegralInRange<int>(0, 31) == 0;  // bytes that do not parse
  if (garbage || msg.ByteSizeLong() > wire::kMaxAgentMessageBytes) {
    // gRPC refuses it (INTERNAL, RESOURCE_EXHAUSTED) and the read fails: the hub never sees it.
    ReadsDone(s);
    Drain();
    return;
  }
  // Over a wire limit the reactor ends the stream (AdmitAgentMessage). Half the time the
  // message goes to the hub anyway: behind the check, the hub and the compile must not crash
  // on it either (defence in depth; the deep dotted key once did).
  if (!wire::CheckAgentMessage(msg).ok() && fdp_.ConsumeBool()) {
    if (AdmitAgentMessage(s.fake->session().get(), msg)) Violation("over a limit, yet admitted");
    ReadsDone(s);
    Drain();
    return;
  }
  if (msg.has_ack()) s.answered.insert(msg.ack().nonce());
  std::string report_id = msg.report().id();
  bool check_scrub = false;
  if (msg.has_report()) {
    s.reports_sent.insert(report_id);
    report_ids_.push_back(report_id);
    for (const v1::ResourceResult& r : msg.report().results()) {
      check_scrub = check_scrub || (r.id() == kSecretId && !r.diff().empty());
    }
  }
  if (check_scrub) {
    // Only a report never stored before says something about this one.
    Drain();
    check_scrub = s.fake->session()->sync().greeted() &&
                  absl::IsNotFound(f_.store->GetReport(report_id).status());
  }
  f_.hub().OnMessage(s.fake->session(), std::move(msg));
  if (!check_scrub && fdp_.ConsumeBool()) return;  // let messages queue up in the hub
  Drain();
  if (check_scrub) CheckScrubbed(s, report_id);
}

void AgentStreamScript::RequestRun() {
  std::map<std::string, std::string> selector;
  if (fdp_.ConsumeBool()) {
    selector[decoder_.Pick({"role"}, false)] = decoder_.Pick({"web"}, false);
  }
  std::vector<std::string> nodes;
  for (int i = 0, n = fdp_.ConsumeIntegralInRange<int>(0, 3); i < n; ++i) {
    nodes.push_back(decoder_.Pick(AgentStreamFixture::NodeNames(), false));
  }
  std::string id = f_.runs.Begin();
  request_ids_.push_back(id);
  RunTracker* runs = &f_.runs;
  f_.hub().RequestRun(selector, nodes, fdp_.ConsumeBool(), id,
                      [runs, id](std::vector<std::string> asked) { runs->SetAsked(id, asked); });
}

void AgentStreamScript::Revoke(const std::string& node, bool revoked) {
  // Checked once the hub has handled it: from then on the node's streams get nothing.
  auto mark = [&] {
    if (revoked) {
      revoked_.insert(node);
    } else {
      revoked_.erase(node);
    }
    for (StreamModel& s : streams_) {
      const std::string& verified = s.fake->session()->verified_node;
      if (!verified.empty() && verified == node) s.fake->MarkRevoked(revoked);
    }
  };
  Trace(std::string(revoked ? "  revoke " : "  enroll again ") + node);
  if (!revoked) mark();
  f_.hub().SetRevoked(node, revoked);
  Drain();
  if (revoked) mark();
}

DecoderHints AgentStreamScript::Hints(const StreamModel& s) const {
  DecoderHints h;
  const std::string& verified = s.fake->session()->verified_node;
  if (!verified.empty()) h.nodes.push_back(verified);
  for (const std::string& n : AgentStreamFixture::NodeNames()) h.nodes.push_back(n);
  h.resource_ids = f_.resource_ids();
  h.versions = versions_;
  h.digests = digests_;
  h.nonces = s.nonces;
  h.report_ids = report_ids_;
  h.request_ids = request_ids_;
  h.revisions = {f_.revision(0), f_.revision(1)};
  return h;
}

void AgentStreamScript::EndAll() {
  for (StreamModel& s : streams_) {
    if (!s.fake->done()) ReadsDone(s);
  }
  Drain();
  // Writes complete one by one; each stream must then finish.
  for (bool progress = true; progress;) {
    progress = false;
    for (StreamModel& s : streams_) progress = s.fake->CompleteWrite(true) || progress;
    Drain();
  }
  for (StreamModel& s : streams_) {
    if (s.fake->done()) continue;
    if (!s.fake->finished()) Violation("a stream never finished after its reads were done");
    s.fake->MarkDone();
    s.fake->session()->Detach();
    f_.hub().OnDisconnect(s.fake->session());
  }
  Drain();
  CheckNothingLeft();
  // Leave nothing behind for the next input: revocations lifted, runs forgotten, events read,
  // the usual nodes plain again, revision one served.
  for (const std::string& node : std::set<std::string>(revoked_)) Revoke(node, false);
  for (const std::string& id : request_ids_) f_.runs.End(id);
  f_.DrainEvents();
  f_.TrimCatalogs();
  f_.ResetNodes();
  f_.Serve(0);
  f_.hub().Drain();
}

}  // namespace plumb::fuzz
