// libFuzzer target over the server's half of the Sync protocol. Each input is decoded (with
// FuzzedDataProvider) into a script of operations on a real StreamHub: open streams (with or
// without a verified TLS identity), send them structured AgentMessages (Hello, Ack/NACK,
// Report, Heartbeat, empty, oversized), complete or fail their writes, half-close them, end
// them, serve a new revision, request runs, revoke and re-enroll nodes, and ask GetBlob's
// access check. The server must never crash, hang, leak a stream or trip a sanitizer, and
// these must hold (a violation aborts, like a sanitizer report):
//   - a reactor sees one write at a time, nothing after Finish, and every stream finishes
//     once its reads are done and its writes complete;
//   - at most one catalog update is in flight per stream, with fresh nonces;
//   - a stream never gets another node's catalog: with a verified identity, Hello names that
//     node; node "a"'s secret goes to node "a" only, and GetBlob serves it to no one else;
//   - a revoked node's streams get nothing more, and its status stays revoked;
//   - a report is acknowledged only once stored, sensitive diffs are never stored;
//   - when every stream has ended, the hub holds none of them.
// Built only with clang (-DPLUMB_FUZZ=ON); tests/run.sh runs it for a bounded time over
// tests/fuzz/agent_stream_corpus (make_agent_stream_corpus.sh regenerates it).
// PLUMB_FUZZ_TRACE=1 prints each step, to follow a failing input.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/escaping.h"
#include "common/logging.h"
#include "tests/fuzz/agent_stream_fixture.h"
#include "tests/fuzz/agent_stream_script.h"
#include "tests/fuzz/fake_stream.h"

namespace plumb::fuzz {

void Violation(const std::string& what) {
  std::string shown = absl::CHexEscape(what.substr(0, 1000));
  std::fprintf(stderr, "agent_stream_fuzzer: invariant violated: %s\n", shown.c_str());
  std::abort();
}

}  // namespace plumb::fuzz

namespace {

// The fixture is rebuilt now and then so that its database stays small over long runs.
constexpr int kInputsPerFixture = 20000;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Every connect, update and report is logged at info: millions of lines otherwise.
  plumb::SetLogLevel(plumb::LogLevel::kError);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Built on the first input and kept: opening SQLite and compiling catalogs per input would
  // dominate. Destroyed at exit (joining the hub's worker, removing the temp dir).
  static std::unique_ptr<plumb::fuzz::AgentStreamFixture> fixture;
  static int inputs = 0;
  if (fixture == nullptr || ++inputs % kInputsPerFixture == 0) {
    fixture.reset();
    fixture = std::make_unique<plumb::fuzz::AgentStreamFixture>();
  }
  plumb::fuzz::AgentStreamScript(fixture.get(), data, size).Run();
  return 0;
}
