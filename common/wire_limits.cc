#include "common/wire_limits.h"

#include <algorithm>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/compiler/mustache.h"
#include "common/status_macros.h"

namespace plumb {
namespace wire {
namespace {

// What the wire lets through, the compile nests: templates see every accepted key.
static_assert(kMaxKeyDepth <= MustacheValue::kMaxPathDepth);

// A value as it may appear in an error message: at most 32 bytes, C-escaped.
std::string Quote(const std::string& value) {
  constexpr size_t kShown = 32;
  std::string shown = absl::CHexEscape(value.substr(0, kShown));
  return absl::StrCat("\"", shown, value.size() > kShown ? "…" : "", "\"");
}

absl::Status TooLong(absl::string_view field, size_t size, size_t limit) {
  return absl::InvalidArgumentError(
      absl::StrCat(field, ": ", size, " bytes, limit ", limit));
}

absl::Status CheckLength(absl::string_view field, const std::string& value, size_t limit) {
  if (value.size() > limit) return TooLong(field, value.size(), limit);
  return absl::OkStatus();
}

absl::Status CheckCount(absl::string_view field, size_t count, size_t limit) {
  if (count > limit) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ": ", count, " entries, limit ", limit));
  }
  return absl::OkStatus();
}

// Limits of one map<string, string> field of Hello.
struct MapLimits {
  absl::string_view field;
  size_t max_entries;
  size_t max_key_bytes;
  size_t max_value_bytes;
  bool dotted;  // keys are dotted paths: bound their depth
};

absl::Status CheckMap(const google::protobuf::Map<std::string, std::string>& map,
                      const MapLimits& limits) {
  PLUMB_RETURN_IF_ERROR(CheckCount(limits.field, map.size(), limits.max_entries));
  for (const auto& [key, value] : map) {
    if (key.empty()) return absl::InvalidArgumentError(absl::StrCat(limits.field, ": empty key"));
    if (key.size() > limits.max_key_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(limits.field, " key ", Quote(key), ": ",
                                                     key.size(), " bytes, limit ",
                                                     limits.max_key_bytes));
    }
    if (limits.dotted) {
      size_t depth = KeyDepth(key);
      if (depth > static_cast<size_t>(kMaxKeyDepth)) {
        return absl::InvalidArgumentError(absl::StrCat(limits.field, " key ", Quote(key),
                                                       " has depth ", depth, ", limit ",
                                                       kMaxKeyDepth));
      }
    }
    if (value.size() > limits.max_value_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(limits.field, " value of ", Quote(key),
                                                     ": ", value.size(), " bytes, limit ",
                                                     limits.max_value_bytes));
    }
  }
  return absl::OkStatus();
}

}  // namespace

size_t KeyDepth(const std::string& key) {
  return 1 + static_cast<size_t>(std::count(key.begin(), key.end(), '.'));
}

absl::Status CheckHello(const v1::Hello& hello) {
  PLUMB_RETURN_IF_ERROR(CheckLength("hello.node", hello.node(), kMaxNodeNameBytes));
  PLUMB_RETURN_IF_ERROR(CheckLength("hello.agent_version", hello.agent_version(), kMaxShortFieldBytes));
  PLUMB_RETURN_IF_ERROR(
      CheckLength("hello.applied_revision", hello.applied_revision(), kMaxShortFieldBytes));
  PLUMB_RETURN_IF_ERROR(
      CheckLength("hello.catalog_digest", hello.catalog_digest(), kMaxShortFieldBytes));
  PLUMB_RETURN_IF_ERROR(CheckMap(hello.labels(), {"hello.labels", kMaxLabels, kMaxLabelKeyBytes,
                                             kMaxLabelValueBytes, /*dotted=*/true}));
  PLUMB_RETURN_IF_ERROR(CheckMap(hello.facts(), {"hello.facts", kMaxFacts, kMaxFactKeyBytes,
                                            kMaxFactValueBytes, /*dotted=*/true}));
  PLUMB_RETURN_IF_ERROR(CheckMap(hello.resource_versions(),
                            {"hello.resource_versions", kMaxResourceVersions, kMaxResourceIdBytes,
                             kMaxShortFieldBytes, /*dotted=*/false}));
  return absl::OkStatus();
}

absl::Status CheckReport(const v1::Report& report) {
  PLUMB_RETURN_IF_ERROR(CheckLength("report.id", report.id(), kMaxShortFieldBytes));
  PLUMB_RETURN_IF_ERROR(CheckLength("report.node", report.node(), kMaxNodeNameBytes));
  PLUMB_RETURN_IF_ERROR(CheckLength("report.revision", report.revision(), kMaxShortFieldBytes));
  PLUMB_RETURN_IF_ERROR(
      CheckLength("report.catalog_digest", report.catalog_digest(), kMaxShortFieldBytes));
  PLUMB_RETURN_IF_ERROR(CheckLength("report.request_id", report.request_id(), kMaxShortFieldBytes));
  PLUMB_RETURN_IF_ERROR(CheckLength("report.truncated", report.truncated(), kMaxReportNoteBytes));
  PLUMB_RETURN_IF_ERROR(
      CheckLength("report.health.output", report.health().output(), kMaxHealthOutputBytes));
  PLUMB_RETURN_IF_ERROR(CheckCount("report.results", report.results_size(), kMaxResults));
  for (int i = 0; i < report.results_size(); ++i) {
    const v1::ResourceResult& r = report.results(i);
    // The field's name is spelled out only when it is over (every report passes here, on
    // gRPC's threads: no strings built per result).
    if (r.id().size() <= kMaxResourceIdBytes && r.message().size() <= kMaxResultMessageBytes &&
        r.diff().size() <= kMaxResultDiffBytes) {
      continue;
    }
    std::string at = absl::StrCat("report.results[", i, "]");
    PLUMB_RETURN_IF_ERROR(CheckLength(absl::StrCat(at, ".id"), r.id(), kMaxResourceIdBytes));
    PLUMB_RETURN_IF_ERROR(
        CheckLength(absl::StrCat(at, ".message"), r.message(), kMaxResultMessageBytes));
    PLUMB_RETURN_IF_ERROR(CheckLength(absl::StrCat(at, ".diff"), r.diff(), kMaxResultDiffBytes));
  }
  // Last: the per-field errors above say more about what is wrong.
  size_t bytes = report.ByteSizeLong();
  if (bytes > kMaxReportBytes) return TooLong("report", bytes, kMaxReportBytes);
  return absl::OkStatus();
}

absl::Status CheckNoopResult(const v1::NoopResult& result) {
  PLUMB_RETURN_IF_ERROR(
      CheckLength("noop_result.request_id", result.request_id(), kMaxShortFieldBytes));
  PLUMB_RETURN_IF_ERROR(CheckLength("noop_result.error", result.error(), kMaxNoopErrorBytes));
  absl::Status report = CheckReport(result.report());
  if (!report.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("noop_result.", report.message()));
  }
  return absl::OkStatus();
}

absl::Status CheckAgentMessage(const v1::AgentMessage& msg) {
  switch (msg.kind_case()) {
    case v1::AgentMessage::kHello:
      return CheckHello(msg.hello());
    case v1::AgentMessage::kAck:
      PLUMB_RETURN_IF_ERROR(CheckLength("ack.nonce", msg.ack().nonce(), kMaxShortFieldBytes));
      return CheckLength("ack.error", msg.ack().error(), kMaxAckErrorBytes);
    case v1::AgentMessage::kReport:
      return CheckReport(msg.report());
    case v1::AgentMessage::kNoopResult:
      return CheckNoopResult(msg.noop_result());
    default:
      return absl::OkStatus();  // heartbeats carry a number; an empty message is the hub's
  }
}

}  // namespace wire
}  // namespace plumb
