// The agent's half of plumbctl plan --noop-sample (agent/noop_runner.h) against a fake server on
// 127.0.0.1:0: a NoopRequest's candidate catalog is run in noop (its blobs fetched), answered
// with a NoopResult, and leaves the agent as it was: host files, held catalog, applied revision,
// no report; an agent busy with a run answers after it.

#include <unistd.h>

#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "agent/agent.h"
#include "common/catalog.h"
#include "common/grpc_credentials.h"
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

// Channels to the fake server's address.
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

// Holds every command whose argv mentions "block" until Release(); answers others with exit 0.
class BlockingRunner : public CommandRunner {
 public:
  absl::StatusOr<CommandResult> Run(const Command& command) override {
    if (absl::StrJoin(command.argv, " ").find("block") != std::string::npos) {
      absl::MutexLock lock(&mu_);
      blocked_ = true;
      mu_.Await(absl::Condition(&released_));
    }
    CommandResult ok;
    ok.exit_code = 0;
    return ok;
  }
  bool WaitBlocked() {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&blocked_), absl::Seconds(30));
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    released_ = true;
  }

 private:
  absl::Mutex mu_;
  bool blocked_ ABSL_GUARDED_BY(mu_) = false;
  bool released_ ABSL_GUARDED_BY(mu_) = false;
};

class AgentNoopTest : public ::testing::Test {
 protected:
  AgentNoopTest() : channels_(&server_) {
    config_.node = "web-01";
    config_.state_dir = dir_.Sub("state");
    config_.root = dir_.Sub("root");
    config_.interval = absl::Hours(1);
    config_.splay = absl::Minutes(1);
    config_.insecure = true;
    timing_.heartbeat = absl::Hours(100);
    timing_.connect_timeout = absl::Seconds(1);
  }
  ~AgentNoopTest() override {
    if (agent_ == nullptr) return;
    agent_->Stop();
    daemon_.join();
  }
  void SetUp() override { ASSERT_TRUE(server_.Start().ok()); }

  void StartAgent(CommandRunner* runner = nullptr) {
    auto agent = Agent::Create(config_, runner != nullptr ? runner : &runner_, &clock_,
                               &channels_, timing_);
    ASSERT_TRUE(agent.ok()) << agent.status();
    agent_ = std::move(*agent);
    daemon_ = std::thread([this] { agent_->RunDaemon(); });
  }
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
  std::string Host(const std::string& path) { return config_.root + path; }

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

TEST_F(AgentNoopTest, CandidateRunsInNoopAndLeavesTheAgentAsItWas) {
  v1::Catalog held = Catalog("rev-held", {{"/etc/motd", "held\n"}});
  server_.SetCatalog(held);
  StartAgent();
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return t.reports.size() == 1; }));
  ASSERT_EQ(ReadFileOrEmpty(Host("/etc/motd")), "held\n");
  std::string cached = ReadFileOrEmpty(config_.state_dir + "/catalog.pb");
  std::string applied = ReadFileOrEmpty(config_.state_dir + "/applied_revision");
  ASSERT_FALSE(cached.empty());

  v1::Catalog candidate =
      Catalog("rev-planned", {{"/etc/motd", "planned\n"}, {"/etc/new.conf", "new\n"}});
  v1::ServerMessage msg;
  msg.mutable_noop()->set_request_id("noop-1-abc");
  *msg.mutable_noop()->mutable_catalog() = candidate;
  ASSERT_EQ(server_.Send(msg), 1);
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return !t.noop_results.empty(); }));

  AgentTraffic t = server_.traffic();
  const v1::NoopResult& result = t.noop_results.front();
  EXPECT_EQ(result.request_id(), "noop-1-abc");
  EXPECT_EQ(result.error(), "");
  EXPECT_TRUE(result.report().noop());
  EXPECT_EQ(result.report().revision(), "rev-planned");
  ASSERT_EQ(result.report().results_size(), 2);
  for (const v1::ResourceResult& r : result.report().results()) {
    EXPECT_EQ(r.outcome(), v1::WOULD_CHANGE) << r.id();
  }
  // Nothing changed: host, cached catalog, applied revision; no report was sent or queued.
  EXPECT_EQ(ReadFileOrEmpty(Host("/etc/motd")), "held\n");
  EXPECT_NE(access(Host("/etc/new.conf").c_str(), F_OK), 0);
  EXPECT_EQ(ReadFileOrEmpty(config_.state_dir + "/catalog.pb"), cached);
  EXPECT_EQ(ReadFileOrEmpty(config_.state_dir + "/applied_revision"), applied);
  EXPECT_EQ(t.reports.size(), 1u);
  // The agent still holds its own catalog: a run it is asked for reports the held revision.
  v1::ServerMessage run;
  run.mutable_run()->set_request_id("run-1");
  ASSERT_EQ(server_.Send(run), 1);
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return t.reports.size() == 2; }));
  EXPECT_EQ(server_.traffic().reports.back().revision(), "rev-held");
}

// An agent busy with a run answers after it: the noop sample waits for the run lock.
TEST_F(AgentNoopTest, ABusyAgentAnswersAfterItsRun) {
  BlockingRunner blocking;
  v1::Catalog held = Catalog("rev-held", {{"/etc/motd", "held\n"}});
  v1::Resource* exec = held.add_resources();
  *exec = MakeResource("exec", "slow", {{"command", "block"}});
  SealCatalog(&held);
  server_.SetCatalog(held);
  StartAgent(&blocking);
  ASSERT_TRUE(blocking.WaitBlocked());  // the catalog run is under way
  v1::ServerMessage msg;
  msg.mutable_noop()->set_request_id("noop-busy");
  *msg.mutable_noop()->mutable_catalog() = Catalog("rev-planned", {{"/etc/motd", "planned\n"}});
  ASSERT_EQ(server_.Send(msg), 1);
  EXPECT_TRUE(server_.traffic().noop_results.empty());
  blocking.Release();
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return !t.noop_results.empty(); }));
  AgentTraffic t = server_.traffic();
  ASSERT_EQ(t.reports.size(), 1u);  // the run's report came first
  EXPECT_EQ(t.reports[0].revision(), "rev-held");
  EXPECT_EQ(t.noop_results[0].request_id(), "noop-busy");
  EXPECT_EQ(t.noop_results[0].error(), "");
  ASSERT_EQ(t.noop_results[0].report().results_size(), 1);
  EXPECT_EQ(t.noop_results[0].report().results(0).outcome(), v1::WOULD_CHANGE);
}

TEST_F(AgentNoopTest, ATamperedCatalogIsAnsweredWithAnError) {
  server_.SetCatalog(Catalog("rev-held", {{"/etc/motd", "held\n"}}));
  StartAgent();
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return t.reports.size() == 1; }));
  v1::Catalog candidate = Catalog("rev-planned", {{"/etc/motd", "planned\n"}});
  candidate.set_digest(std::string(64, '0'));
  v1::ServerMessage msg;
  msg.mutable_noop()->set_request_id("noop-2");
  *msg.mutable_noop()->mutable_catalog() = candidate;
  ASSERT_EQ(server_.Send(msg), 1);
  ASSERT_TRUE(server_.WaitFor([](const AgentTraffic& t) { return !t.noop_results.empty(); }));
  v1::NoopResult result = server_.traffic().noop_results.front();
  EXPECT_EQ(result.request_id(), "noop-2");
  EXPECT_NE(result.error(), "");
  EXPECT_EQ(result.report().results_size(), 0);
  EXPECT_EQ(ReadFileOrEmpty(Host("/etc/motd")), "held\n");
}

}  // namespace
}  // namespace plumb
