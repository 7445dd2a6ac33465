#pragma once

// The limits of everything an agent sends on its Sync stream, in one place (the table in
// docs/protocol.md lists them). The server checks every AgentMessage against them before the
// hub sees it (server/sync/agent_service.cc) and ends the stream with INVALID_ARGUMENT naming the
// field; the agent cuts its own reports and NACK errors to fit (agent/report_fit.h), so what
// an honest agent sends always passes. The compile path bounds dotted-key depth on its own
// too (MustacheValue::kMaxPathDepth), for facts that come from elsewhere (masterless config).

#include <cstddef>
#include <cstdint>

#include "absl/status/status.h"
#include "plumb/v1/agent.pb.h"

namespace plumb {
namespace wire {

inline constexpr size_t kKiB = 1024;
inline constexpr size_t kMiB = 1024 * 1024;

// gRPC message sizes. The server receives AgentMessages up to kMaxAgentMessageBytes (a Hello
// holding 100,000 resource versions fits); the agent receives ServerMessages up to
// kMaxServerMessageBytes, and the server never sends a CatalogUpdate over kMaxCatalogUpdateBytes
// (the node fails with an error instead of an update that cannot arrive).
inline constexpr size_t kMaxAgentMessageBytes = 16 * kMiB;
inline constexpr size_t kMaxServerMessageBytes = 64 * kMiB;
inline constexpr size_t kMaxCatalogUpdateBytes = kMaxServerMessageBytes - 64 * kKiB;

// Dotted keys (facts and labels: os.id) become nested names for templates.
inline constexpr int kMaxKeyDepth = 16;

// Hello.
inline constexpr size_t kMaxNodeNameBytes = 253;  // a DNS name
inline constexpr size_t kMaxLabels = 64;
inline constexpr size_t kMaxLabelKeyBytes = 128;
inline constexpr size_t kMaxLabelValueBytes = 1 * kKiB;
inline constexpr size_t kMaxFacts = 1024;
inline constexpr size_t kMaxFactKeyBytes = 256;
inline constexpr size_t kMaxFactValueBytes = 8 * kKiB;
inline constexpr size_t kMaxResourceVersions = 100000;
inline constexpr size_t kMaxResourceIdBytes = 4352;  // "type:" + PATH_MAX, with room
inline constexpr size_t kMaxShortFieldBytes = 128;   // versions, digests, revisions, ids

// Ack.
inline constexpr size_t kMaxAckErrorBytes = 16 * kKiB;

// Report.
inline constexpr size_t kMaxReportBytes = 4 * kMiB;  // the serialized Report
inline constexpr size_t kMaxResults = kMaxResourceVersions;
inline constexpr size_t kMaxResultMessageBytes = 64 * kKiB;
inline constexpr size_t kMaxResultDiffBytes = 1 * kMiB;
inline constexpr size_t kMaxReportNoteBytes = 1 * kKiB;
inline constexpr size_t kMaxHealthOutputBytes = 4 * kKiB;  // report.health.output (its tail)

// NoopResult (plumbctl plan --noop-sample): request_id as kMaxShortFieldBytes, the report as
// a Report (every limit above, named noop_result.report.*), and why it did not run.
inline constexpr size_t kMaxNoopErrorBytes = 16 * kKiB;

// Number of parts of a dotted key: "os.id" is 2. Counts without splitting.
size_t KeyDepth(const std::string& key);

// OK if `msg` is within every limit above. Otherwise InvalidArgument naming the field, e.g.
// `hello.facts: 5000 entries, limit 1024` or `hello.facts key "a.a.a…" has depth 1000001,
// limit 16`. Values quoted in the message are cut and C-escaped.
absl::Status CheckAgentMessage(const v1::AgentMessage& msg);
absl::Status CheckHello(const v1::Hello& hello);
absl::Status CheckReport(const v1::Report& report);
absl::Status CheckNoopResult(const v1::NoopResult& result);

}  // namespace wire
}  // namespace plumb
