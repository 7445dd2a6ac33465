#pragma once

// Turns fuzzer bytes into structured v1::AgentMessages (Hello, Ack, Report, Heartbeat, or no
// kind at all) instead of parsing the bytes as protobuf: each field is either a value the
// server knows (a node name, a nonce it sent, a resource id of the catalog) or an odd one
// (empty, binary, very long, many map entries, extreme numbers), so inputs reach deep into
// the protocol. Now and then a message is large on purpose: long keys, dotted keys of up to a
// million parts ("a.a.a…", which once crashed the server's compile), tens of thousands of
// entries in a map or results in a report.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <string>
#include <vector>

#include "plumb/v1/agent.pb.h"

namespace plumb::fuzz {

// Values worth picking because the server has seen or sent them.
struct DecoderHints {
  std::vector<std::string> nodes;         // node names, the stream's own first
  std::vector<std::string> resource_ids;  // ids of the repository's resources
  std::vector<std::string> versions;      // resource versions seen in updates
  std::vector<std::string> digests;       // catalog digests seen in updates
  std::vector<std::string> nonces;        // update nonces seen on this stream
  std::vector<std::string> report_ids;    // report ids already used
  std::vector<std::string> request_ids;   // RunRequest ids handed out
  std::vector<std::string> revisions;     // the served revisions
};

// Not thread-safe; borrows `fdp`, which must outlive it.
class AgentMessageDecoder {
 public:
  // Bytes a message's huge values may take in all: a little over the report limit (4 MiB).
  // The server's receive limit (wire::kMaxAgentMessageBytes) is above that.
  static constexpr size_t kHugeBudget = 4 * 1024 * 1024 + 4096;

  explicit AgentMessageDecoder(FuzzedDataProvider* fdp) : fdp_(fdp) {}

  // The next message. May be over the wire limits: callers model the server's checks (or skip them).
  v1::AgentMessage Next(const DecoderHints& hints);

  // A string: one of `known`, or empty, short, long, or (budget allowing) huge; always UTF-8,
  // as gRPC refuses proto3 strings that are not.
  std::string Pick(const std::vector<std::string>& known, bool allow_huge = true);
  // An int64: 0, +-1, the extremes, small, or anything.
  int64_t Number();

 private:
  void FillHello(const DecoderHints& hints, v1::Hello* hello);
  void FillReport(const DecoderHints& hints, v1::Report* report);
  // A map or list size: usually a few, sometimes thousands.
  int Count();
  std::string Huge();
  // A map key: one of `known`, or (rarely) a huge one or a deep dotted one.
  std::string Key(const std::vector<std::string>& known);
  // "p.p.p…": up to a million parts of one short part, within the budget.
  std::string DeepKey();
  // Up to 200,000 made-up entries ("k17" or "k.17"), without consuming input bytes for each.
  void ManyEntries(google::protobuf::Map<std::string, std::string>* map);

  FuzzedDataProvider* const fdp_;
  size_t budget_ = 0;  // bytes Huge() may still produce for the current message
};

}  // namespace plumb::fuzz
