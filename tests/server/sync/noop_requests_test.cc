// plumbctl plan --noop-sample on the server: the registry of outstanding NoopRequests (matching
// answers to requests, timeouts, one per node, sensitive diffs cleared), the hub sending them
// and routing answers (never as reports), and GetBlob's check: a node may fetch its own
// candidate catalog's blobs while the request is outstanding, never another node's.

#include "server/sync/noop_requests.h"

#include <thread>

#include "common/compiler/directory_tree.h"
#include "common/digest.h"
#include "gtest/gtest.h"
#include "server/store/sqlite/sqlite_store.h"
#include "server/sync/agent_service.h"
#include "server/sync/stream_hub.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::TempDir;

std::shared_ptr<const v1::Catalog> Candidate(const std::string& content_digest) {
  auto c = std::make_shared<v1::Catalog>();
  c->set_revision(std::string(40, 'b'));
  v1::Resource* motd = c->add_resources();
  motd->set_id("file:/etc/motd");
  motd->set_content_digest(content_digest);
  v1::Resource* secret = c->add_resources();
  secret->set_id("file:/etc/secret");
  secret->set_sensitive(true);
  return c;
}

std::map<std::string, std::shared_ptr<const std::string>> Blobs(const std::string& content) {
  return {{Sha256Hex(content), std::make_shared<const std::string>(content)}};
}

v1::NoopResult Answer(const std::string& id) {
  v1::NoopResult r;
  r.set_request_id(id);
  for (const char* res : {"file:/etc/motd", "file:/etc/secret", "file:/etc/orphan"}) {
    v1::ResourceResult* result = r.mutable_report()->add_results();
    result->set_id(res);
    result->set_outcome(v1::WOULD_CHANGE);
    result->set_diff(std::string("-old\n+new ") + res + "\n");
  }
  return r;
}

TEST(NoopRequestsTest, AnswerMatchesNodeAndIdAndClearsDiffsItMayNotShow) {
  testing::ManualClock clock;
  NoopRequests noops(&clock);
  auto id = noops.Start("web-1", Candidate(Sha256Hex("a")), Blobs("a"));
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_FALSE(noops.Answer("web-2", Answer(*id)));           // another node's answer
  EXPECT_FALSE(noops.Answer("web-1", Answer("noop-other")));  // another request
  EXPECT_TRUE(noops.Answer("web-1", Answer(*id)));
  EXPECT_FALSE(noops.Answer("web-1", Answer(*id)));  // only once
  NoopOutcome outcome = noops.Wait(*id, clock.Now());
  EXPECT_TRUE(outcome.answered);
  EXPECT_EQ(outcome.report.node(), "web-1");
  ASSERT_EQ(outcome.report.results_size(), 3);
  EXPECT_NE(outcome.report.results(0).diff(), "");  // planned and not sensitive
  EXPECT_EQ(outcome.report.results(1).diff(), "");  // sensitive in the candidate
  EXPECT_EQ(outcome.report.results(2).diff(), "");  // not in the candidate: unknown
  EXPECT_EQ(noops.outstanding(), 0);
}

TEST(NoopRequestsTest, OnePerNodeAndBounded) {
  testing::ManualClock clock;
  NoopRequests noops(&clock);
  ASSERT_TRUE(noops.Start("web-1", Candidate(""), {}).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(noops.Start("web-1", Candidate(""), {}).status()));
  for (int i = 1; i < NoopRequests::kMaxOutstanding; ++i) {
    ASSERT_TRUE(noops.Start("n-" + std::to_string(i), Candidate(""), {}).ok());
  }
  EXPECT_TRUE(absl::IsResourceExhausted(noops.Start("one-more", Candidate(""), {}).status()));
}

TEST(NoopRequestsTest, WaitTimesOutWithoutAnswerAndALateAnswerIsDropped) {
  testing::ManualClock clock;
  NoopRequests noops(&clock);
  auto id = noops.Start("web-1", Candidate(Sha256Hex("a")), Blobs("a"));
  ASSERT_TRUE(id.ok());
  NoopOutcome outcome;
  std::thread waiter([&] { outcome = noops.Wait(*id, clock.Now() + absl::Seconds(30)); });
  ASSERT_TRUE(clock.AwaitPendingWait([](absl::Duration d) { return d == absl::Seconds(30); }));
  clock.Advance(absl::Seconds(31));
  waiter.join();
  EXPECT_FALSE(outcome.answered);
  EXPECT_EQ(outcome.error, "");
  EXPECT_FALSE(noops.Answer("web-1", Answer(*id)));  // the plan stopped waiting
  EXPECT_EQ(noops.Blob(std::string("web-1"), Sha256Hex("a")), nullptr);
  EXPECT_TRUE(noops.Start("web-1", Candidate(""), {}).ok());  // the node is free again
}

TEST(NoopRequestsTest, FailNodeEndsItsRequest) {
  testing::ManualClock clock;
  NoopRequests noops(&clock);
  auto id = noops.Start("web-1", Candidate(""), {});
  ASSERT_TRUE(id.ok());
  noops.FailNode("web-1", "gone");
  NoopOutcome outcome = noops.Wait(*id, clock.Now() + absl::Hours(1));  // returns at once
  EXPECT_FALSE(outcome.answered);
  EXPECT_EQ(outcome.error, "gone");
}

// Records writes, completing each at once.
class RecordingWriter : public StreamWriter {
 public:
  explicit RecordingWriter(AgentSession* session) : session_(session) {}
  void StartWrite(const v1::ServerMessage* msg) override {
    {
      absl::MutexLock lock(&mu_);
      writes_.push_back(*msg);
    }
    session_->OnWriteDone(true);
  }
  void Finish(grpc::Status) override {}
  std::vector<v1::ServerMessage> writes() {
    absl::MutexLock lock(&mu_);
    return writes_;
  }

 private:
  AgentSession* const session_;
  absl::Mutex mu_;
  std::vector<v1::ServerMessage> writes_ ABSL_GUARDED_BY(mu_);
};

class NoopHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteFileOrDie(dir_.Sub("repo/plumb.yaml"),
                            "version: 1\ntargets:\n  - name: all\n    nodes: \"*\"\n"
                            "    modules: [base]\n");
    testing::WriteFileOrDie(dir_.Sub("repo/modules/base/module.yaml"),
                            "resources:\n  - file: /etc/motd\n    content: \"hi\\n\"\n");
    auto state = DesiredState::Parse(DirectoryTree(dir_.Sub("repo")), std::string(40, 'a'));
    ASSERT_TRUE(state->ok());
    builder_.SetDesiredState(state);
    auto store = SqliteStore::Open(dir_.Sub("plumb.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::move(*store);
    hub_ = std::make_unique<StreamHub>(store_.get(), &builder_, &runs_, &clock_);
  }

  std::shared_ptr<AgentSession> Connect(const std::string& node,
                                        std::unique_ptr<RecordingWriter>* writer) {
    auto session = std::make_shared<AgentSession>("ipv4:127.0.0.1:1");
    session->verified_node = node;
    *writer = std::make_unique<RecordingWriter>(session.get());
    session->Attach(writer->get());
    v1::AgentMessage hello;
    hello.mutable_hello()->set_node(node);
    hub_->OnMessage(session, hello);
    hub_->Drain();
    return session;
  }

  TempDir dir_;
  testing::ManualClock clock_;
  CatalogBuilder builder_;
  RunTracker runs_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<StreamHub> hub_;
};

TEST_F(NoopHubTest, RequestIsSentAndItsAnswerIsNoReport) {
  std::unique_ptr<RecordingWriter> w1;
  auto s1 = Connect("web-1", &w1);
  auto before = store_->GetNode("web-1");
  ASSERT_TRUE(before.ok());
  auto catalog = Candidate(Sha256Hex("a"));
  auto id = hub_->noop_requests().Start("web-1", catalog, Blobs("a"));
  ASSERT_TRUE(id.ok());
  hub_->SendNoop("web-1", *id, catalog);
  hub_->Drain();
  std::vector<v1::ServerMessage> writes = w1->writes();
  ASSERT_FALSE(writes.empty());
  ASSERT_TRUE(writes.back().has_noop());
  EXPECT_EQ(writes.back().noop().request_id(), *id);
  EXPECT_EQ(writes.back().noop().catalog().revision(), catalog->revision());

  v1::AgentMessage answer;
  *answer.mutable_noop_result() = Answer(*id);
  hub_->OnMessage(s1, answer);
  hub_->Drain();
  NoopOutcome outcome = hub_->noop_requests().Wait(*id, clock_.Now());
  EXPECT_TRUE(outcome.answered);
  EXPECT_EQ(outcome.report.results_size(), 3);
  // Not a report: nothing stored, the node's row as it was.
  auto reports = store_->ListReports("web-1", 10);
  ASSERT_TRUE(reports.ok());
  EXPECT_TRUE(reports->empty());
  auto after = store_->GetNode("web-1");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->status(), before->status());
  EXPECT_EQ(after->last_report_id(), before->last_report_id());
  EXPECT_EQ(w1->writes().size(), writes.size());  // no ReportAck either
}

TEST_F(NoopHubTest, NotConnectedFailsAtOnce) {
  auto catalog = Candidate("");
  auto id = hub_->noop_requests().Start("web-9", catalog, {});
  ASSERT_TRUE(id.ok());
  hub_->SendNoop("web-9", *id, catalog);
  hub_->Drain();
  NoopOutcome outcome = hub_->noop_requests().Wait(*id, clock_.Now() + absl::Hours(1));
  EXPECT_FALSE(outcome.answered);
  EXPECT_EQ(outcome.error, "not connected");
}

// With TLS, a node may fetch the blobs of its own outstanding sample, not another node's.
TEST_F(NoopHubTest, CandidateBlobsAreFetchableByTheirNodeOnly) {
  std::unique_ptr<RecordingWriter> w1, w2;
  auto s1 = Connect("web-1", &w1);
  auto s2 = Connect("web-2", &w2);
  const std::string digest = Sha256Hex("candidate for web-1 only");
  auto id =
      hub_->noop_requests().Start("web-1", Candidate(digest), Blobs("candidate for web-1 only"));
  ASSERT_TRUE(id.ok());
  EXPECT_TRUE(CheckBlobAccess(*hub_, true, std::string("web-1"), digest).ok());
  EXPECT_EQ(CheckBlobAccess(*hub_, true, std::string("web-2"), digest).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(CheckBlobAccess(*hub_, true, std::nullopt, digest).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_NE(hub_->noop_requests().Blob(std::string("web-1"), digest), nullptr);
  EXPECT_EQ(hub_->noop_requests().Blob(std::string("web-2"), digest), nullptr);
  hub_->noop_requests().Wait(*id, clock_.Now());  // the plan is done with it
  EXPECT_EQ(CheckBlobAccess(*hub_, true, std::string("web-1"), digest).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace plumb
