#pragma once

// One agent_stream_fuzzer input, decoded into a script of operations on the fixture's
// StreamHub and run: streams open, send messages, complete or fail writes, half-close and end;
// revisions, run requests, revocations and GetBlob checks come in between. After each step
// the hub is drained and what every stream received is checked (agent_stream_checks.cc).

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "tests/fuzz/agent_message_decoder.h"
#include "tests/fuzz/agent_stream_fixture.h"
#include "tests/fuzz/fake_stream.h"

namespace plumb::fuzz {

// What the script knows about one stream besides what FakeStream records.
struct StreamModel {
  std::unique_ptr<FakeStream> fake;
  bool reads_done = false;          // no more messages are read from it
  uint64_t last_nonce = 0;
  std::string outstanding;          // the nonce of the last update received
  std::set<std::string> answered;   // nonces the agent acked or nacked
  std::vector<std::string> nonces;  // every nonce received
  std::set<std::string> reports_sent;
};

// Thread-compatible; borrows the fixture and the input, which must outlive it.
class AgentStreamScript {
 public:
  AgentStreamScript(AgentStreamFixture* fixture, const uint8_t* data, size_t size)
      : f_(*fixture), fdp_(data, size), decoder_(&fdp_) {}

  // Runs the script, then ends every stream. Aborts (Violation) on a broken invariant.
  void Run();

 private:
  enum Op { kOpen, kSend, kComplete, kReadsDone, kDone, kRevision, kRun, kRevoke, kBlob, kTick };

  // ---- operations (agent_stream_script.cc) ----
  void Step(Op op);
  void Open();
  void Send(StreamModel& s);
  // The reactor's OnReadDone(false): the agent half-closed, the connection broke, or gRPC
  // refused a message.
  void ReadsDone(StreamModel& s);
  void RequestRun();
  void Revoke(const std::string& node, bool revoked);
  // Ends every stream the way gRPC would, checks nothing is left behind, and resets the
  // fixture for the next input.
  void EndAll();
  StreamModel* PickStream();
  DecoderHints Hints(const StreamModel& s) const;

  // ---- checks (agent_stream_checks.cc) ----
  // Waits for the hub, then checks what every stream received and the revoked nodes.
  void Drain();
  void CheckReceived(StreamModel& s);
  // After `report_id` (never stored before) was sent with a diff for the secret on `s`.
  void CheckScrubbed(const StreamModel& s, const std::string& report_id);
  // GetBlob's access check for a digest the script picks, as `s`'s caller.
  void CheckBlob(StreamModel& s);
  // After all streams ended: the hub holds none of them.
  void CheckNothingLeft();

  AgentStreamFixture& f_;
  FuzzedDataProvider fdp_;
  AgentMessageDecoder decoder_;
  bool secure_ = false;  // TLS: every stream has a verified node
  std::vector<StreamModel> streams_;
  std::set<std::string> revoked_;
  std::vector<std::string> request_ids_;
  std::vector<std::string> versions_, digests_, report_ids_;
};

// PLUMB_FUZZ_TRACE=1 prints the script's steps on stderr, to follow a failing input.
bool Tracing();
void Trace(const std::string& line);

}  // namespace plumb::fuzz
