#include "tests/fuzz/agent_message_decoder.h"

#include <algorithm>
#include <cstdint>
#include <limits>

#include "absl/strings/str_cat.h"
#include "google/protobuf/stubs/common.h"

namespace plumb::fuzz {
namespace {

// proto3 strings must be UTF-8: gRPC fails the read of a message with anything else, so such
// bytes never reach the hub. Invalid strings lose their non-ASCII bytes.
std::string Utf8(std::string s) {
  if (google::protobuf::internal::IsStructurallyValidUTF8(s.data(), static_cast<int>(s.size()))) {
    return s;
  }
  std::string ascii;
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x80) ascii.push_back(c);
  }
  return ascii;
}

}  // namespace

std::string AgentMessageDecoder::Pick(const std::vector<std::string>& known, bool allow_huge) {
  switch (fdp_->ConsumeIntegralInRange<int>(0, 15)) {
    case 0:
      return "";
    case 1:
    case 2:
      return Utf8(fdp_->ConsumeRandomLengthString(16));
    case 3:
      return Utf8(fdp_->ConsumeRandomLengthString(512));
    case 4:
      if (allow_huge) return Huge();
      return Utf8(fdp_->ConsumeRandomLengthString(4096));
    default:
      if (known.empty()) return Utf8(fdp_->ConsumeRandomLengthString(32));
      return known[fdp_->ConsumeIntegralInRange<size_t>(0, known.size() - 1)];
  }
}

std::string AgentMessageDecoder::Huge() {
  // Cheap to make, expensive to handle: one repeated byte. Usually up to 64 KiB, now and then
  // up to what is left of the message's budget (megabytes slow every later step down).
  size_t max = budget_;
  if (fdp_->ConsumeIntegralInRange<int>(0, 15) != 0) max = std::min<size_t>(budget_, 65536);
  size_t n = fdp_->ConsumeIntegralInRange<size_t>(0, max);
  budget_ -= n;
  char c = static_cast<char>(fdp_->ConsumeIntegral<uint8_t>() & 0x7f);
  return std::string(n, c);
}

int64_t AgentMessageDecoder::Number() {
  switch (fdp_->ConsumeIntegralInRange<int>(0, 6)) {
    case 0: return 0;
    case 1: return -1;
    case 2: return std::numeric_limits<int64_t>::min();
    case 3: return std::numeric_limits<int64_t>::max();
    case 4: return fdp_->ConsumeIntegralInRange<int64_t>(1, 1000000);
    case 5: return 1700000000000 + fdp_->ConsumeIntegralInRange<int64_t>(-100000, 100000);
    default: return fdp_->ConsumeIntegral<int64_t>();
  }
}

int AgentMessageDecoder::Count() {
  if (fdp_->ConsumeIntegralInRange<int>(0, 15) == 0) {
    return fdp_->ConsumeIntegralInRange<int>(0, 5000);
  }
  return fdp_->ConsumeIntegralInRange<int>(0, 4);
}

std::string AgentMessageDecoder::Key(const std::vector<std::string>& known) {
  switch (fdp_->ConsumeIntegralInRange<int>(0, 15)) {
    case 0: return DeepKey();
    case 1: return Huge();
    default: return Pick(known, false);
  }
}

std::string AgentMessageDecoder::DeepKey() {
  std::string part = fdp_->ConsumeBool() ? "a" : Utf8(fdp_->ConsumeRandomLengthString(4));
  if (part.empty()) part = "a";
  size_t max_parts = std::min<size_t>(budget_ / (part.size() + 1), 1000000);
  if (max_parts < 2) return part;
  // Half the time just over the wire limit of 16, else up to a million (past any stack).
  size_t parts = fdp_->ConsumeBool() ? fdp_->ConsumeIntegralInRange<size_t>(2, 40)
                                     : fdp_->ConsumeIntegralInRange<size_t>(2, max_parts);
  std::string key;
  key.reserve(parts * (part.size() + 1));
  key += part;
  for (size_t i = 1; i < parts; ++i) absl::StrAppend(&key, ".", part);
  budget_ -= std::min(budget_, key.size());
  return key;
}

void AgentMessageDecoder::ManyEntries(google::protobuf::Map<std::string, std::string>* map) {
  int n = fdp_->ConsumeIntegralInRange<int>(0, 200000);
  bool dotted = fdp_->ConsumeBool();
  for (int i = 0; i < n; ++i) (*map)[absl::StrCat(dotted ? "k." : "k", i)] = "v";
}

void AgentMessageDecoder::FillHello(const DecoderHints& hints, v1::Hello* hello) {
  static const std::vector<std::string> kLabelKeys = {"role", "env", "broken"};
  static const std::vector<std::string> kLabelValues = {"web", "prod", "yes", "db"};
  static const std::vector<std::string> kFactKeys = {"os.id", "os.version", "hostname", "os"};
  static const std::vector<std::string> kFactValues = {"debian", "12", "a", ""};
  hello->set_node(Pick(hints.nodes));
  for (int i = 0, n = Count(); i < n && fdp_->remaining_bytes() > 0; ++i) {
    (*hello->mutable_labels())[Key(kLabelKeys)] = Pick(kLabelValues, i < 2);
  }
  for (int i = 0, n = Count(); i < n && fdp_->remaining_bytes() > 0; ++i) {
    (*hello->mutable_facts())[Key(kFactKeys)] = Pick(kFactValues, i < 2);
  }
  switch (fdp_->ConsumeIntegralInRange<int>(0, 31)) {
    case 0: ManyEntries(hello->mutable_facts()); break;
    case 1: ManyEntries(hello->mutable_labels()); break;
    case 2: ManyEntries(hello->mutable_resource_versions()); break;
    default: break;
  }
  if (fdp_->ConsumeBool()) hello->set_agent_version(Pick({"0.1.0"}));
  if (fdp_->ConsumeBool()) hello->set_applied_revision(Pick(hints.revisions));
  for (int i = 0, n = Count(); i < n && fdp_->remaining_bytes() > 0; ++i) {
    (*hello->mutable_resource_versions())[Key(hints.resource_ids)] =
        Pick(hints.versions, false);
  }
  if (fdp_->ConsumeBool()) hello->set_catalog_digest(Pick(hints.digests));
  hello->set_run_once(fdp_->ConsumeBool());
}

void AgentMessageDecoder::FillReport(const DecoderHints& hints, v1::Report* report) {
  static const std::vector<std::string> kReportIds = {"r1", "r2", "r3"};
  report->set_id(Pick(fdp_->ConsumeBool() ? hints.report_ids : kReportIds));
  if (fdp_->ConsumeBool()) report->set_node(Pick(hints.nodes));
  report->set_revision(Pick(hints.revisions));
  // Open enums: any int32 arrives from the wire.
  report->set_trigger(static_cast<v1::RunTrigger>(fdp_->ConsumeBool()
                                                      ? fdp_->ConsumeIntegralInRange<int>(0, 4)
                                                      : fdp_->ConsumeIntegral<int>()));
  report->set_noop(fdp_->ConsumeBool());
  report->set_started_unix_ms(Number());
  report->set_duration_us(Number());
  // Rarely, tens of thousands of results (the wire allows 100,000, the bytes 4 MiB).
  int many = fdp_->ConsumeIntegralInRange<int>(0, 31) == 0
                 ? fdp_->ConsumeIntegralInRange<int>(0, 120000) : 0;
  for (int i = 0; i < many; ++i) report->add_results()->set_id(absl::StrCat("file:/f", i));
  for (int i = 0, n = Count(); i < n && fdp_->remaining_bytes() > 0; ++i) {
    v1::ResourceResult* r = report->add_results();
    r->set_id(Pick(hints.resource_ids, false));
    r->set_outcome(static_cast<v1::ResourceOutcome>(fdp_->ConsumeBool()
                                                        ? fdp_->ConsumeIntegralInRange<int>(0, 5)
                                                        : fdp_->ConsumeIntegral<int>()));
    if (fdp_->ConsumeBool()) r->set_message(Pick({"content differs"}, i < 2));
    if (fdp_->ConsumeBool()) r->set_diff(Pick({"-old\n+new\n"}, i < 2));
    r->set_duration_us(Number());
    r->set_created(fdp_->ConsumeBool());
  }
  if (fdp_->ConsumeBool()) report->set_catalog_digest(Pick(hints.digests));
  if (fdp_->ConsumeBool()) report->set_request_id(Pick(hints.request_ids));
}

v1::AgentMessage AgentMessageDecoder::Next(const DecoderHints& hints) {
  // A little over the report limit, so that some messages are refused as too large.
  budget_ = kHugeBudget;
  v1::AgentMessage msg;
  switch (fdp_->ConsumeIntegralInRange<int>(0, 9)) {
    case 0: case 1: case 2:
      FillHello(hints, msg.mutable_hello());
      break;
    case 3: case 4: case 5:
      msg.mutable_ack()->set_nonce(Pick(hints.nonces));
      if (fdp_->ConsumeIntegralInRange<int>(0, 3) == 0) {
        msg.mutable_ack()->set_error(Pick({"cannot apply: bad catalog"}));
      }
      break;
    case 6: case 7:
      FillReport(hints, msg.mutable_report());
      break;
    case 8:
      msg.mutable_heartbeat()->set_unix_ms(Number());
      break;
    default:
      break;  // no kind: an empty AgentMessage
  }
  return msg;
}

}  // namespace plumb::fuzz
