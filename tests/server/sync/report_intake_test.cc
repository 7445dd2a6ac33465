// Report intake: group commit (the reports taken before a flush are stored in one
// transaction), acknowledgements only after the reports and the node rows are stored, and
// sensitive diffs scrubbed by the catalogs the stream was sent. Real SQLite behind a Store that
// counts its calls.

#include "server/sync/report_intake.h"

#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "server/store/forwarding_store.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::TempDir;

// The real SQLite store, counting PutReports calls and their sizes; fails them when asked.
class CountingStore : public ForwardingStore {
 public:
  static std::unique_ptr<CountingStore> Open(const std::string& path) {
    auto store = SqliteStore::Open(path);
    EXPECT_TRUE(store.ok()) << store.status();
    return std::unique_ptr<CountingStore>(new CountingStore(std::move(*store)));
  }
  absl::StatusOr<std::vector<bool>> PutReports(
      const std::vector<const v1::Report*>& reports) override {
    batches.push_back(static_cast<int>(reports.size()));
    if (fail) return absl::UnavailableError("disk full");
    return inner()->PutReports(reports);
  }
  // Everything else goes to the real store (ForwardingStore).

  std::vector<int> batches;
  bool fail = false;

 private:
  explicit CountingStore(std::unique_ptr<SqliteStore> inner)
      : ForwardingStore(inner.get()), owned_(std::move(inner)) {}
  std::unique_ptr<SqliteStore> owned_;
};

// Records, for every ReportAck written, the node row the store held at that moment.
class AckWitness : public StreamWriter {
 public:
  AckWitness(AgentSession* session, Store* store) : session_(session), store_(store) {}
  void StartWrite(const v1::ServerMessage* msg) override {
    if (msg->has_report_ack()) {
      auto node = store_->GetNode(session_->sync().node());
      auto report = store_->GetReport(msg->report_ack().report_id());
      absl::MutexLock lock(&mu_);
      acked_.push_back(msg->report_ack().report_id());
      row_at_ack_.push_back(node.ok() ? node->last_report_id() : "");
      stored_at_ack_.push_back(report.ok());
    }
    session_->OnWriteDone(true);
  }
  void Finish(grpc::Status) override {}
  std::vector<std::string> acked() {
    absl::MutexLock lock(&mu_);
    return acked_;
  }
  std::vector<std::string> row_at_ack() {
    absl::MutexLock lock(&mu_);
    return row_at_ack_;
  }
  std::vector<bool> stored_at_ack() {
    absl::MutexLock lock(&mu_);
    return stored_at_ack_;
  }

 private:
  AgentSession* const session_;
  Store* const store_;
  absl::Mutex mu_;
  std::vector<std::string> acked_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> row_at_ack_ ABSL_GUARDED_BY(mu_);
  std::vector<bool> stored_at_ack_ ABSL_GUARDED_BY(mu_);
};

class ReportIntakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = CountingStore::Open(dir_.Sub("plumb.db"));
    nodes_ = std::make_unique<NodeBook>(store_.get());
    intake_ = std::make_unique<ReportIntake>(store_.get(), nodes_.get(), &runs_, &clock_,
                                             nullptr, nullptr);
  }

  std::shared_ptr<AgentSession> Session(const std::string& node) {
    auto session = std::make_shared<AgentSession>("ipv4:127.0.0.1:1");
    v1::Hello hello;
    hello.set_node(node);
    NodeInputs inputs;
    inputs.name = node;
    session->sync().Greet(hello, std::move(inputs));
    witnesses_.push_back(std::make_unique<AckWitness>(session.get(), store_.get()));
    session->Attach(witnesses_.back().get());
    return session;
  }

  // `s`'s agent was sent `catalog` and acknowledged it.
  static void Acknowledged(AgentSession* s, std::shared_ptr<const v1::Catalog> catalog) {
    v1::Ack ack;
    ack.set_nonce(s->sync().StartUpdate(std::move(catalog), 0));
    ASSERT_NE(s->sync().TakeAck(ack), nullptr);
  }

  static v1::Report Report(const std::string& id, const std::string& revision = "rev") {
    v1::Report report;
    report.set_id(id);
    report.set_revision(revision);
    v1::ResourceResult* r = report.add_results();
    r->set_id("file:/etc/secret");
    r->set_outcome(v1::CHANGED);
    r->set_diff("-password=old\n+password=new\n");
    return report;
  }

  TempDir dir_;
  testing::ManualClock clock_;
  RunTracker runs_;
  std::unique_ptr<CountingStore> store_;
  std::unique_ptr<NodeBook> nodes_;
  std::unique_ptr<ReportIntake> intake_;
  std::vector<std::unique_ptr<AckWitness>> witnesses_;
};

TEST_F(ReportIntakeTest, ReportsTakenBeforeAFlushShareOneTransaction) {
  auto a = Session("web-1");
  auto b = Session("web-2");
  EXPECT_TRUE(intake_->Take(a, Report("a-1"), 0));  // starts a batch: the caller schedules Flush
  for (int i = 2; i <= 5; ++i) EXPECT_FALSE(intake_->Take(a, Report("a-" + std::to_string(i)), 0));
  for (int i = 1; i <= 5; ++i) EXPECT_FALSE(intake_->Take(b, Report("b-" + std::to_string(i)), 0));
  EXPECT_TRUE(intake_->Flush().empty());
  EXPECT_EQ(store_->batches, std::vector<int>({10}));
  EXPECT_EQ(witnesses_[0]->acked().size(), 5u);
  EXPECT_EQ(witnesses_[1]->acked().size(), 5u);
  EXPECT_EQ(intake_->pending(), 0u);
  EXPECT_TRUE(intake_->Take(a, Report("a-6"), 0));  // the next report starts the next batch
}

// `plumbctl node` right after an agent saw its ReportAck must show that run.
TEST_F(ReportIntakeTest, AckIsSentOnlyAfterTheReportAndTheNodeRowAreStored) {
  auto a = Session("web-1");
  intake_->Take(a, Report("r-1"), 0);
  intake_->Take(a, Report("r-2"), 0);
  intake_->Flush();
  EXPECT_EQ(witnesses_[0]->acked(), std::vector<std::string>({"r-1", "r-2"}));
  EXPECT_EQ(witnesses_[0]->stored_at_ack(), std::vector<bool>({true, true}));
  EXPECT_EQ(witnesses_[0]->row_at_ack(), std::vector<std::string>({"r-2", "r-2"}));
}

TEST_F(ReportIntakeTest, ARefusedBatchIsReturnedWholeAndNothingIsAcknowledged) {
  auto a = Session("web-1");
  intake_->Take(a, Report("r-1"), 0);
  intake_->Take(a, Report("r-2"), 2);
  store_->fail = true;
  std::vector<ReportIntake::Refused> refused = intake_->Flush();
  ASSERT_EQ(refused.size(), 2u);
  EXPECT_EQ(refused[0].report.id(), "r-1");
  EXPECT_EQ(refused[1].attempt, 2);
  EXPECT_TRUE(absl::IsUnavailable(refused[1].error));
  EXPECT_TRUE(witnesses_[0]->acked().empty());
  EXPECT_FALSE(store_->GetNode("web-1").ok());
}

TEST_F(ReportIntakeTest, SensitiveDiffsAreScrubbedByTheCatalogsTheStreamWasSent) {
  auto a = Session("web-1");
  auto catalog = std::make_shared<v1::Catalog>();
  catalog->set_revision("rev");
  v1::Resource* secret = catalog->add_resources();
  secret->set_id("file:/etc/secret");
  secret->set_sensitive(true);
  Acknowledged(a.get(), catalog);
  intake_->Take(a, Report("r-1"), 0);
  intake_->Flush();
  auto stored = store_->GetReport("r-1");
  ASSERT_TRUE(stored.ok());
  EXPECT_TRUE(stored->results(0).diff().empty());
}

TEST_F(ReportIntakeTest, DiffsOfARunOfACatalogTheStreamWasNotSentAreDropped) {
  auto a = Session("web-1");
  auto catalog = std::make_shared<v1::Catalog>();
  catalog->set_revision("rev");
  catalog->add_resources()->set_id("file:/etc/secret");  // not sensitive at "rev"
  Acknowledged(a.get(), catalog);
  intake_->Take(a, Report("same", "rev"), 0);
  intake_->Take(a, Report("older", "an-older-revision"), 0);
  intake_->Flush();
  EXPECT_FALSE(store_->GetReport("same")->results(0).diff().empty());
  EXPECT_TRUE(store_->GetReport("older")->results(0).diff().empty());
}

}  // namespace
}  // namespace plumb
