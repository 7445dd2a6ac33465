// The agent daemon (agent.cc, sync_client.cc) against a fake server on 127.0.0.1:0, with a
// fake clock: every interval, heartbeat and backoff wait is driven by the test, and every
// check waits on a condition with a bounded deadline.

#include "agent/agent.h"

#include <algorithm>
#include <set>
#include <unistd.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "agent/report_queue.h"
#include "common/catalog.h"
#include "common/grpc_credentials.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/agent/agent_test_fakes.h"
#include "tests/testing/fake_agent_server.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::plumb::testing::AgentTraffic;
using ::plumb::testing::FakeAgentServer;
using ::plumb::testing::MakeResource;
using ::plumb::testing::ManualClock;
using ::plumb::testing::ReadFileOrEmpty;
using ::plumb::testing::ScriptedCommandRunner;
using ::plumb::testing::TempDir;

constexpr absl::Duration kInterval = absl::Hours(1);
constexpr absl::Duration kSplay = absl::Minutes(10);

// Channels to the fake server's (current) address.
class LoopbackChannels : public ChannelFactory {
 public:
  explicit LoopbackChannels(FakeAgentServer* server) : server_(server) {}
  absl::StatusOr<std::shared_ptr<grpc::Channel>> NewChannel() override {
    return grpc::CreateCustomChannel(server_->address(), grpc::InsecureChannelCredentials(),
                                     DefaultChannelArguments());
  }
  std::string target() const override { return server_->address(); }

 private:
  FakeAgentServer* const server_;
};

// Reconnect waits are the only ones under a minute (interval and heartbeat are far longer).
bool IsBackoff(absl::Duration d) { return d < absl::Minutes(1); }

class AgentDaemonTest : public ::testing::Test {
 protected:
  AgentDaemonTest() : channels_(&server_) {
    config_.node = "web-01";
    config_.state_dir = dir_.Sub("state");
    config_.root = dir_.Sub("root");
    config_.interval = kInterval;
    config_.splay = kSplay;
    config_.insecure = true;
    timing_.heartbeat = absl::Hours(100);
    timing_.connect_timeout = absl::Seconds(1);
  }
  ~AgentDaemonTest() override { StopAgent(); }

  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }

  void StartAgent() {
    auto agent = Agent::Create(config_, &runner_, &clock_, &channels_, timing_);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = std::move(*agent);
    daemon_ = std::thread([this] { agent_->RunDaemon(); });
  }
  void StopAgent() {
    if (agent_ == nullptr) return;
    agent_->Stop();
    daemon_.join();
    agent_.reset();
  }

  // A sealed catalog of files (managed path -> content) whose blobs the server serves.
  v1::Catalog Catalog(const std::string& revision,
                      const std::map<std::string, std::string>& files) {
    v1::Catalog catalog;
    catalog.set_revision(revision);
    for (const auto& [path, content] : files) {
      v1::Resource* r = catalog.add_resources();
      *r = MakeResource("file", path, {{"mode", "0644"}});
      r->set_content_digest(server_.PutBlob(content));
      r->set_content_size(content.size());
    }
    SealCatalog(&catalog);
    return catalog;
  }
  // The update that takes an agent holding `from` to `to`.
  static v1::ServerMessage Update(const v1::Catalog& from, const v1::Catalog& to,
                                  const std::string& nonce) {
    std::map<std::string, std::string> held;
    for (const v1::Resource& r : from.resources()) held[r.id()] = r.version();
    v1::ServerMessage msg;
    *msg.mutable_update() = ComputeDelta(held, to);
    msg.mutable_update()->set_nonce(nonce);
    return msg;
  }

  std::string Host(const std::string& path) { return config_.root + path; }
  std::vector<v1::Report> QueuedReports() {
    auto queue = ReportQueue::Open(config_.state_dir + "/reports");
    return queue.ok() ? (*queue)->Pending() : std::vector<v1::Report>{};
  }
  // Sends an update that changes nothing and waits for its Ack: the agent handles messages in
  // order, so by then it has handled everything the server sent before (ReportAcks).
  void Barrier(const v1::Catalog& held) {
    static int n = 0;
    std::string nonce = absl::StrCat("barrier-", ++n);
    ASSERT_EQ(server_.Send(Update(held, held, nonce)), 1);
    ASSERT_TRUE(server_.WaitFor([&](const AgentTraffic& t) {
      return !t.acks.empty() && t.acks.back().nonce() == nonce;
    }));
  }
  // Waits for the agent's next reconnect wait and lets it pass. Returns its length.
  absl::Duration PassBackoff() {
    std::optional<absl::Duration> wait = clock_.AwaitPendingWait(IsBackoff);
    if (!wait.has_value()) {
      ADD_FAILURE() << "the agent never waited to reconnect";
      return absl::ZeroDuration();
    }
    clock_.Advance(*wait);
    return *wait;
  }
  // Lets reconnect waits pass until the traffic satisfies `done` (the agent may need several
  // attempts while a restarted server comes up). Bounded by `timeout` real time.
  bool ReconnectUntil(std::function<bool(const AgentTraffic&)> done,
                      absl::Duration timeout = absl::Seconds(30)) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (server_.WaitFor(done, absl::Milliseconds(100))) return true;
      std::optional<absl::Duration> wait =
          clock_.AwaitPendingWait(IsBackoff, absl::Milliseconds(100));
      if (wait.has_value()) clock_.Advance(*wait);
    }
    return false;
  }

  TempDir dir_;
  FakeAgentServer server_;
  LoopbackChannels channels_;
  ManualClock clock_;
  ScriptedCommandRunner runner_;
  AgentConfig config_;
  AgentTiming timing_;
  std::unique_ptr<Agent> agent_;
  std::thread daemon_;
};

int ReportsWithTrigger(const AgentTraffic& t, v1::RunTrigger trigger) {
  return std::count_if(t.reports.begin(), t.reports.end(),
                       [&](const v1::Report& r) { return r.trigger() == trigger; });
}

TEST_F(AgentDaemonTest, ReconnectBacksOffWithJitterAndResetsAfterAGoodMessage) {
  server_.SetCatalog(Catalog("rev1", {{"/etc/motd", "hello\n"}}));
  server_.set_drop_after_hello(true);
  StartAgent();
  // Each failed attempt doubles the ceiling (0.5 s, 1 s, ... capped at 30 s); the delay is
  // uniform in [ceiling/2, ceiling], so while the ceiling doubles no delay is shorter than the
  // one before.
  absl::Duration previous_delay, previous_ceiling;
  std::set<double> fractions;  // of each attempt's ceiling: jitter makes them differ
  for (int attempt = 0; attempt < 8; ++attempt) {
    ASSERT_TRUE(server_.WaitFor(
        [&](const AgentTraffic& t) { return t.hellos.size() == size_t(attempt) + 1; }));
    if (attempt == 7) server_.set_drop_after_hello(false);
    absl::Duration ceiling =
        std::min(timing_.backoff_initial * (int64_t{1} << attempt), timing_.backoff_max);
    absl::Duration d = PassBackoff();
    EXPECT_GE(d, ceiling / 2) << "attempt " << attempt;
    EXPECT_LE(d, ceiling) << "attempt " << attempt;
    if (ceiling == 2 * previous_ceiling) {
      EXPECT_GE(d, previous_delay) << "attempt " << attempt;
    }
    previous_delay = d;
    previous_ceiling = ceiling;
    fractions.insert(absl::FDivDuration(d, ceiling));
  }
  EXPECT_GT(fractions.size(), 1u) << "every delay sat on its ceiling: no jitter";

  // The ninth attempt is answered with a catalog (a good message); a drop then starts over.
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return t.acks.size() == 1; }));
  EXPECT_TRUE(server_.traffic().acks[0].error().empty());
  server_.DropStreams();
  absl::Duration after_reset = PassBackoff();
  EXPECT_GE(after_reset, timing_.backoff_initial / 2);
  EXPECT_LE(after_reset, timing_.backoff_initial);
}

TEST_F(AgentDaemonTest, HeartbeatsFollowTheClock) {
  timing_.heartbeat = absl::Seconds(30);
  server_.SetCatalog(Catalog("rev1", {{"/etc/motd", "hello\n"}}));
  StartAgent();
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return t.acks.size() == 1; }));
  ASSERT_TRUE(clock_.AwaitPendingWait([](absl::Duration d) { return d == absl::Seconds(30); }));
  EXPECT_EQ(server_.traffic().heartbeats, 0);
  clock_.Advance(absl::Seconds(30));
  EXPECT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return t.heartbeats == 1; }));
}

TEST_F(AgentDaemonTest, OfflineIntervalRunAppliesTheCachedCatalogAndQueuesItsReport) {
  v1::Catalog catalog = Catalog("rev1", {{"/etc/motd", "hello\n"}});
  server_.SetCatalog(catalog);
  StartAgent();
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return t.reports.size() == 1; }));
  Barrier(catalog);
  StopAgent();
  EXPECT_EQ(ReadFileOrEmpty(Host("/etc/motd")), "hello\n");
  EXPECT_TRUE(QueuedReports().empty());

  // The server goes away; while no agent runs (so no drift watch sees it), the file is lost.
  server_.Shutdown();
  ASSERT_EQ(std::remove(Host("/etc/motd").c_str()), 0);
  StartAgent();
  ASSERT_TRUE(clock_.AwaitPendingWait(
      [](absl::Duration d) { return d >= kInterval && d <= kInterval + kSplay; }));
  EXPECT_EQ(ReadFileOrEmpty(Host("/etc/motd")), "<missing>");
  clock_.Advance(kInterval + kSplay);

  // The interval run repairs from the cached catalog and its report waits on disk (the loop
  // waits for the next interval only after the run).
  ASSERT_TRUE(clock_.AwaitPendingWait(
      [](absl::Duration d) { return d >= kInterval && d <= kInterval + kSplay; }));
  std::vector<v1::Report> queued = QueuedReports();
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].trigger(), v1::INTERVAL);
  EXPECT_EQ(queued[0].revision(), "rev1");
  ASSERT_EQ(queued[0].results_size(), 1);
  EXPECT_EQ(queued[0].results(0).outcome(), v1::CHANGED);
  EXPECT_EQ(ReadFileOrEmpty(Host("/etc/motd")), "hello\n");

  // The server returns: the queued report arrives once, is acknowledged, and leaves the queue.
  ASSERT_TRUE(server_.Start().ok());
  ASSERT_TRUE(ReconnectUntil(
      [](const AgentTraffic& t) { return ReportsWithTrigger(t, v1::INTERVAL) == 1; }));
  EXPECT_EQ(server_.traffic().reports.back().id(), queued[0].id());
  Barrier(catalog);
  EXPECT_TRUE(QueuedReports().empty());
}

TEST_F(AgentDaemonTest, UnackedReportIsResentAfterReconnectAndDequeuedOnceAcked) {
  v1::Catalog catalog = Catalog("rev1", {{"/etc/motd", "hello\n"}});
  server_.SetCatalog(catalog);
  server_.set_ack_reports(false);
  StartAgent();
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return t.reports.size() == 1; }));
  const std::string id = server_.traffic().reports[0].id();
  ASSERT_EQ(QueuedReports().size(), 1u);
  EXPECT_EQ(QueuedReports()[0].id(), id);

  server_.set_ack_reports(true);
  server_.DropStreams();
  PassBackoff();
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) {
    return t.hellos.size() == 2 && t.reports.size() == 2 && t.acks.size() == 2;
  }));
  EXPECT_EQ(server_.traffic().reports[1].id(), id);
  Barrier(catalog);
  EXPECT_TRUE(QueuedReports().empty());

  // Nothing is re-sent on the next connection (its update's ack comes after any re-send).
  server_.DropStreams();
  PassBackoff();
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return t.acks.size() == 4; }));
  EXPECT_EQ(server_.traffic().reports.size(), 2u);
}

TEST_F(AgentDaemonTest, CoalescedDeltaSkippingRevisionsConvergesOnTheLatest) {
  v1::Catalog rev1 = Catalog("rev1", {{"/etc/a", "a1\n"}, {"/etc/b", "b1\n"}});
  server_.SetCatalog(rev1);
  StartAgent();
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return t.reports.size() == 1; }));
  // rev2 (a changes) is never sent: the server coalesces it into rev3 (a changes again, c
  // appears, b leaves the catalog), one delta from what the agent holds.
  v1::Catalog rev3 = Catalog("rev3", {{"/etc/a", "a3\n"}, {"/etc/c", "c3\n"}});
  ASSERT_EQ(server_.Send(Update(rev1, rev3, "n3")), 1);
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return t.reports.size() == 2; }));
  AgentTraffic t = server_.traffic();
  ASSERT_EQ(t.acks.size(), 2u);
  EXPECT_EQ(t.acks[1].nonce(), "n3");
  EXPECT_EQ(t.acks[1].error(), "");
  EXPECT_EQ(t.reports[1].revision(), "rev3");
  EXPECT_EQ(t.reports[1].catalog_digest(), rev3.digest());
  EXPECT_EQ(ReadFileOrEmpty(Host("/etc/a")), "a3\n");
  EXPECT_EQ(ReadFileOrEmpty(Host("/etc/c")), "c3\n");

  // A reconnect resumes from rev3: the Hello names exactly rev3's versions.
  server_.SetCatalog(rev3);
  server_.DropStreams();
  PassBackoff();
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return t.hellos.size() == 2; }));
  const v1::Hello hello = server_.traffic().hellos[1];
  EXPECT_EQ(hello.applied_revision(), "rev3");
  EXPECT_EQ(hello.catalog_digest(), rev3.digest());
  EXPECT_EQ(hello.resource_versions().size(), 2u);
}

TEST_F(AgentDaemonTest, BackToBackUpdatesAreAckedInOrderAndTheLatestWins) {
  v1::Catalog rev1 = Catalog("rev1", {{"/etc/a", "a1\n"}});
  server_.SetCatalog(rev1);
  StartAgent();
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return t.reports.size() == 1; }));
  v1::Catalog rev2 = Catalog("rev2", {{"/etc/a", "a2\n"}});
  v1::Catalog rev3 = Catalog("rev3", {{"/etc/a", "a3\n"}});
  // Both deltas are on the wire before the agent answers the first.
  ASSERT_EQ(server_.Send(Update(rev1, rev2, "n2")), 1);
  ASSERT_EQ(server_.Send(Update(rev2, rev3, "n3")), 1);
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) {
    return t.acks.size() == 3 && !t.reports.empty() && t.reports.back().revision() == "rev3";
  }));
  AgentTraffic t = server_.traffic();
  EXPECT_EQ(t.acks[1].nonce(), "n2");
  EXPECT_EQ(t.acks[2].nonce(), "n3");
  EXPECT_EQ(t.acks[1].error() + t.acks[2].error(), "");
  EXPECT_EQ(ReadFileOrEmpty(Host("/etc/a")), "a3\n");
}

// A rotated secret does not stay on the host: once two newer catalogs replaced the one that
// named it, its blob is gone from state_dir/blobs (the previous catalog's blobs stay).
TEST_F(AgentDaemonTest, BlobsNoLongerNamedByTheCurrentOrPreviousCatalogAreDropped) {
  v1::Catalog rev1 = Catalog("rev1", {{"/etc/secret", "password=old\n"}});
  server_.SetCatalog(rev1);
  StartAgent();
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return t.reports.size() == 1; }));
  std::string old_blob = config_.state_dir + "/blobs/" + rev1.resources(0).content_digest();
  EXPECT_EQ(ReadFileOrEmpty(old_blob), "password=old\n");
  v1::Catalog rev2 = Catalog("rev2", {{"/etc/secret", "password=new\n"}});
  ASSERT_EQ(server_.Send(Update(rev1, rev2, "n2")), 1);
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return t.acks.size() == 2; }));
  EXPECT_EQ(ReadFileOrEmpty(old_blob), "password=old\n");  // the previous catalog's: kept
  v1::Catalog rev3 = Catalog("rev3", {{"/etc/secret", "password=newer\n"}});
  ASSERT_EQ(server_.Send(Update(rev2, rev3, "n3")), 1);
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return t.acks.size() == 3; }));
  EXPECT_NE(access(old_blob.c_str(), F_OK), 0) << "the rotated secret is still cached";
  // The run comes after the Ack: wait for its report before looking at the file.
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) {
    return !t.reports.empty() && t.reports.back().revision() == "rev3";
  }));
  EXPECT_EQ(ReadFileOrEmpty(Host("/etc/secret")), "password=newer\n");
}

// The rollout's health check is kept with the cached catalog: an agent restarted (here with
// the server away) still runs it after each apply of that catalog.
TEST_F(AgentDaemonTest, TheHealthCheckSurvivesAnAgentRestart) {
  runner_.On("/bin/sh -c healthy", 4, "still broken");
  v1::Catalog catalog = Catalog("rev1", {{"/etc/motd", "hello\n"}});
  StartAgent();
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return !t.hellos.empty(); }));
  v1::ServerMessage update = Update(v1::Catalog(), catalog, "with-health");
  update.mutable_update()->mutable_health()->set_exec("healthy");
  ASSERT_EQ(server_.Send(update), 1);
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return t.reports.size() == 1; }));
  EXPECT_EQ(server_.traffic().reports[0].health().exit_status(), 4);
  // Barrier() with the check (an update without one would clear it): the report is acked.
  v1::ServerMessage same = Update(catalog, catalog, "barrier-health");
  same.mutable_update()->mutable_health()->set_exec("healthy");
  ASSERT_EQ(server_.Send(same), 1);
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) {
    return !t.acks.empty() && t.acks.back().nonce() == "barrier-health";
  }));
  StopAgent();

  server_.Shutdown();
  ASSERT_EQ(std::remove(Host("/etc/motd").c_str()), 0);
  StartAgent();
  ASSERT_TRUE(clock_.AwaitPendingWait(
      [](absl::Duration d) { return d >= kInterval && d <= kInterval + kSplay; }));
  clock_.Advance(kInterval + kSplay);
  ASSERT_TRUE(clock_.AwaitPendingWait(
      [](absl::Duration d) { return d >= kInterval && d <= kInterval + kSplay; }));
  std::vector<v1::Report> queued = QueuedReports();
  ASSERT_EQ(queued.size(), 1u);
  EXPECT_EQ(queued[0].trigger(), v1::INTERVAL);
  ASSERT_TRUE(queued[0].has_health()) << "the restarted agent forgot the health check";
  EXPECT_EQ(queued[0].health().exit_status(), 4);
  EXPECT_EQ(queued[0].health().output(), "still broken");
}

}  // namespace
}  // namespace plumb
