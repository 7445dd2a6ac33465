// The run tracker across replicas: a request waits for the other replicas' answers (which
// nodes they asked) and takes their forwarded reports; a request another replica tracks is
// forwarded, but a forwarded report is never forwarded again (no loops between replicas).

#include "server/fleet/run_tracker.h"

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace plumb {
namespace {

v1::ReportSummary Summary(const std::string& node) {
  v1::ReportSummary s;
  s.set_node(node);
  s.set_id("r-" + node);
  return s;
}

TEST(RunTrackerTest, WaitsForTheOtherReplicasAnswersThenTheirReports) {
  RunTracker runs;
  std::string id = runs.Begin();
  runs.SetAsked(id, {"local-1"});
  runs.ExpectAnswers(id, 2);
  // One replica answers; the other never does (dead): WaitAsked gives up after its timeout.
  std::thread b([&] { runs.Answer(id, {"remote-1"}); });
  b.join();
  std::vector<std::string> asked = runs.WaitAsked(id, absl::Milliseconds(50));
  EXPECT_EQ(asked, (std::vector<std::string>{"local-1", "remote-1"}));
  runs.Answer(id, {});  // the second answer: nothing asked there
  EXPECT_EQ(runs.WaitAsked(id, absl::Seconds(10)).size(), 2u);  // at once now
  runs.Deliver(id, Summary("local-1"));
  runs.DeliverForwarded(id, Summary("remote-1"));
  auto reports = runs.Wait(id, absl::Seconds(10));
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_EQ(reports["remote-1"].id(), "r-remote-1");
}

TEST(RunTrackerTest, ForwardsReportsOfRemoteRequestsOnceAndNeverForwardedOnes) {
  RunTracker runs;
  std::vector<std::string> forwarded;
  runs.set_forward([&](const std::string& id, const v1::ReportSummary& s) {
    forwarded.push_back(id + "/" + s.node());
  });
  runs.TrackRemote("run-from-a");
  runs.Deliver("run-from-a", Summary("web-1"));           // our agent answered A's request
  runs.Deliver("run-unknown", Summary("web-2"));          // nobody's: dropped
  runs.DeliverForwarded("run-from-a", Summary("web-3"));  // C forwarded it: not ours to send
  EXPECT_EQ(forwarded, (std::vector<std::string>{"run-from-a/web-1"}));
}

TEST(RunTrackerTest, RemembersABoundedNumberOfRemoteRequests) {
  RunTracker runs;
  int forwarded = 0;
  runs.set_forward([&](const std::string&, const v1::ReportSummary&) { ++forwarded; });
  for (size_t i = 0; i <= RunTracker::kMaxRemote; ++i) runs.TrackRemote("r" + std::to_string(i));
  runs.Deliver("r0", Summary("n"));  // the oldest was forgotten
  runs.Deliver("r1", Summary("n"));
  EXPECT_EQ(forwarded, 1);
}

}  // namespace
}  // namespace plumb
