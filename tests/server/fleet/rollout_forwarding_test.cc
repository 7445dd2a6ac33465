// Operators' rollout actions through any replica (rollout_forwarding.cc, issue 16): two
// replicas on one real PostgreSQL, each with its store, rollout controller, hub, FleetService
// and replica link. ControlRollout and Rollback sent to the follower are executed by the leader
// (its rollout changes, the follower takes the new header at once and answers with the
// leader's status), the leader's errors come back as they are, and with no leader answering
// the follower says UNAVAILABLE within its timeout. Malformed requests are refused or dropped.

#include "server/fleet/rollout_forwarding.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "common/compiler/directory_tree.h"
#include "gtest/gtest.h"
#include "server/fleet/fleet_service.h"
#include "server/fleet/replica_relay.h"
#include "server/rollout/live_revisions.h"
#include "server/rollout/rollout_controller.h"
#include "server/store/postgres/pg_replica_link.h"
#include "server/store/postgres/pg_store.h"
#include "tests/testing/fake_clock.h"
#include "tests/testing/pg_cluster.h"
#include "tests/testing/test_util.h"
#include "tests/testing/wait_for.h"

namespace plumb {
namespace {

using ::plumb::testing::ManualClock;
using ::plumb::testing::PgCluster;
using ::plumb::testing::WaitFor;

const std::string kOld(40, 'a');
const std::string kNew(40, 'b');

// canary: n0 (no bake); then everyone else.
v1::RolloutPolicy TwoWaves() {
  v1::RolloutPolicy p;
  v1::RolloutWave* canary = p.add_waves();
  canary->set_name("canary");
  canary->add_nodes("n0");
  p.add_waves()->set_percent(100);
  p.set_max_failed_count(0);
  return p;
}

PgReplicaLinkOptions Fast() {
  PgReplicaLinkOptions o;
  o.heartbeat = absl::Milliseconds(100);
  o.expiry = absl::Milliseconds(500);
  o.flush = absl::Milliseconds(10);
  o.poll = absl::Milliseconds(200);
  return o;
}

RolloutNode N(const std::string& name) { return {name, {}}; }

// One replica: everything a FleetService needs to take rollout actions.
struct Replica {
  Replica(const std::string& url, const std::string& id, Clock* clock,
          LiveRevisions::Loader loader) {
    auto opened = PgStore::Open(url);
    EXPECT_TRUE(opened.ok()) << opened.status();
    store = std::move(*opened);
    auto l = PgReplicaLink::Open(url, "", id, Fast());
    EXPECT_TRUE(l.ok()) << l.status();
    link = std::move(*l);
    rollout = std::make_unique<RolloutController>(store.get(), clock);
    rollout->SetReplicated([this] { return leads.load(); }, "");
    live = std::make_unique<LiveRevisions>(&builder, std::move(loader));
    bus = std::make_unique<EventBus>(clock);
    hub = std::make_unique<StreamHub>(store.get(), &builder, &runs, clock);
    fleet = std::make_unique<FleetServiceImpl>(store.get(), nullptr, hub.get(), &runs);
    fleet->set_rollout(rollout.get(), live.get());
    forwarding = std::make_unique<RolloutForwarding>(link.get(), clock);
    fleet->set_rollout_forwarding(forwarding.get());
    relay = std::make_unique<ReplicaRelay>(link.get(), hub.get(), &runs, bus.get());
    relay->set_rollout_forwarding(forwarding.get());
  }
  ~Replica() {
    link->Stop();
    forwarding->Stop();
  }

  grpc::Status Control(v1::ControlRolloutRequest::Action action, v1::RolloutStatus* out,
                       int wave = 0) {
    grpc::ServerContext context;
    v1::ControlRolloutRequest req;
    req.set_action(action);
    req.set_wave(wave);
    return fleet->ControlRollout(&context, &req, out);
  }

  std::atomic<bool> leads{false};
  std::unique_ptr<Store> store;
  std::unique_ptr<PgReplicaLink> link;
  CatalogBuilder builder;
  RunTracker runs;
  std::unique_ptr<RolloutController> rollout;
  std::unique_ptr<LiveRevisions> live;
  std::unique_ptr<EventBus> bus;
  std::unique_ptr<StreamHub> hub;
  std::unique_ptr<FleetServiceImpl> fleet;
  std::unique_ptr<RolloutForwarding> forwarding;
  std::unique_ptr<ReplicaRelay> relay;
};

class RolloutForwardingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string url = PgCluster::Shared().NewDatabaseUrl();
    a_ = std::make_unique<Replica>(url, "a", &clock_, Loader());
    b_ = std::make_unique<Replica>(url, "b", &clock_, Loader());
    a_->leads = true;
    for (const std::string& sha : {kOld, kNew}) {
      v1::Revision rev;
      rev.set_sha(sha);
      rev.set_status(v1::REVISION_OK);
      ASSERT_TRUE(a_->store->PutRevision(rev).ok());
    }
    v1::Node n0;
    n0.set_name("n0");
    n0.set_connected(true);
    ASSERT_TRUE(a_->store->PutNodes({n0}).ok());
    policy_ = TwoWaves();
    ASSERT_EQ(a_->rollout->OnNewRevision(kNew, kOld, &policy_), kOld);
    ASSERT_TRUE(b_->rollout->Restore().ok());  // RevisionPoller::Follow takes up the revision
    a_->relay->Start();
    b_->relay->Start();
    ASSERT_TRUE(WaitFor([&] {
      return a_->link->OtherLiveReplicas() == 1 && b_->link->OtherLiveReplicas() == 1;
    }));
  }

  // Parses revision kOld (one file) for the leader's LiveRevisions (a rollback to it).
  LiveRevisions::Loader Loader() {
    return [this](const std::string& sha) -> absl::StatusOr<std::shared_ptr<const DesiredState>> {
      std::string root = dir_.Sub(sha);
      testing::WriteFileOrDie(root + "/plumb.yaml",
                              "version: 1\ntargets:\n  - {name: all, nodes: '*', "
                              "modules: [base]}\n");
      testing::WriteFileOrDie(root + "/modules/base/module.yaml",
                              "resources:\n  - file: /etc/app\n    content: " + sha + "\n");
      DirectoryTree tree(root);
      return std::shared_ptr<const DesiredState>(DesiredState::Parse(tree, sha));
    };
  }

  v1::RolloutPhase StoredPhase() {
    auto stored = a_->store->GetRolloutState();
    EXPECT_TRUE(stored.ok()) << stored.status();
    return stored.ok() ? stored->phase() : v1::ROLLOUT_PHASE_UNSPECIFIED;
  }

  ManualClock clock_;
  testing::TempDir dir_;
  v1::RolloutPolicy policy_;
  std::unique_ptr<Replica> a_, b_;  // a_ leads
};

TEST_F(RolloutForwardingTest, PauseAndResumeThroughTheFollowerChangeTheLeadersRollout) {
  v1::RolloutStatus status;
  grpc::Status done = b_->Control(v1::ControlRolloutRequest::PAUSE, &status);
  ASSERT_TRUE(done.ok()) << done.error_message();
  EXPECT_EQ(status.phase(), v1::ROLLOUT_PAUSED);  // the leader's status after its pause
  EXPECT_EQ(a_->rollout->Status({}).phase(), v1::ROLLOUT_PAUSED);
  EXPECT_EQ(StoredPhase(), v1::ROLLOUT_PAUSED);
  // The follower took the header when the answer came, not at a later tick.
  EXPECT_EQ(b_->rollout->Status({}).phase(), v1::ROLLOUT_PAUSED);

  done = b_->Control(v1::ControlRolloutRequest::RESUME, &status);
  ASSERT_TRUE(done.ok()) << done.error_message();
  EXPECT_EQ(status.phase(), v1::ROLLOUT_PROGRESSING);
  EXPECT_EQ(a_->rollout->Status({}).phase(), v1::ROLLOUT_PROGRESSING);
  EXPECT_EQ(b_->rollout->Status({}).phase(), v1::ROLLOUT_PROGRESSING);
}

TEST_F(RolloutForwardingTest, PromoteAndAbortThroughTheFollowerAndTheLeadersErrorsComeBack) {
  EXPECT_EQ(b_->rollout->Decide(N("n1")).revision, kOld);  // wave 2 waits for the canary
  v1::RolloutStatus status;
  grpc::Status done = b_->Control(v1::ControlRolloutRequest::PROMOTE, &status);
  ASSERT_TRUE(done.ok()) << done.error_message();
  EXPECT_EQ(status.wave(), 1u);
  EXPECT_EQ(a_->rollout->Status({}).wave(), 1u);
  EXPECT_EQ(b_->rollout->Decide(N("n1")).revision, kNew);  // the follower serves wave 2 now

  // The leader's refusal, as the leader words it.
  done = b_->Control(v1::ControlRolloutRequest::PROMOTE, &status, /*wave=*/1);
  EXPECT_EQ(done.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(done.error_message().find("is not after the current"), std::string::npos)
      << done.error_message();

  done = b_->Control(v1::ControlRolloutRequest::ABORT, &status);
  ASSERT_TRUE(done.ok()) << done.error_message();
  EXPECT_EQ(a_->rollout->Status({}).phase(), v1::ROLLOUT_ABORTED);
  EXPECT_EQ(b_->rollout->Status({}).phase(), v1::ROLLOUT_ABORTED);
  done = b_->Control(v1::ControlRolloutRequest::PAUSE, &status);
  EXPECT_EQ(done.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(done.error_message().find("no rollout is progressing"), std::string::npos)
      << done.error_message();
  EXPECT_EQ(done.error_message().find("ask the leader"), std::string::npos);
}

TEST_F(RolloutForwardingTest, RollbackThroughTheFollowerStartsTheLeadersRollback) {
  grpc::ServerContext context;
  v1::RollbackRequest req;
  req.set_now(true);
  v1::RollbackResponse resp;
  grpc::Status done = b_->fleet->Rollback(&context, &req, &resp);
  ASSERT_TRUE(done.ok()) << done.error_message();
  EXPECT_EQ(resp.revision(), kOld);  // the leader's previous revision
  EXPECT_EQ(a_->rollout->Status({}).revision(), kOld);
  EXPECT_NE(a_->live->BuilderFor(kOld), nullptr);  // loaded on the leader
  // A new rollout: the follower's poller takes it up (RevisionPoller::Follow).
  EXPECT_TRUE(b_->rollout->StoredIsAnother());
  ASSERT_TRUE(b_->rollout->Restore().ok());
  EXPECT_EQ(b_->rollout->Decide(N("n1")).revision, kOld);
}

TEST_F(RolloutForwardingTest, WithNoLeaderAnsweringTheFollowerSaysUnavailableAtItsTimeout) {
  a_->leads = false;  // alive, but nobody leads (between two leaders)
  grpc::Status done;
  std::thread op([&] {
    v1::RolloutStatus status;
    done = b_->Control(v1::ControlRolloutRequest::PAUSE, &status);
  });
  ASSERT_TRUE(clock_.AwaitPendingWait([](absl::Duration d) {
                      return d == RolloutForwarding::kTimeout;
                    }).has_value());
  clock_.Advance(RolloutForwarding::kTimeout);
  op.join();
  EXPECT_EQ(done.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(done.error_message().find("no leader replica answered within 10s"), std::string::npos)
      << done.error_message();
  EXPECT_EQ(StoredPhase(), v1::ROLLOUT_PROGRESSING);
}

TEST_F(RolloutForwardingTest, WithTheLeaderGoneTheFollowerSaysUnavailable) {
  a_->link->Stop();  // its heartbeat row goes: b counts no other replica
  ASSERT_TRUE(WaitFor([&] { return b_->link->OtherLiveReplicas() == 0; }));
  v1::RolloutStatus status;
  grpc::Status done = b_->Control(v1::ControlRolloutRequest::ABORT, &status);
  EXPECT_EQ(done.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(b_->rollout->Status({}).phase(), v1::ROLLOUT_PROGRESSING);
}

TEST_F(RolloutForwardingTest, ActionsOverTheLimitsAreRefusedBeforeForwarding) {
  v1::RolloutStatus status;
  grpc::Status done = b_->Control(v1::ControlRolloutRequest::PROMOTE, &status, /*wave=*/1000);
  EXPECT_EQ(done.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  grpc::ServerContext context;
  v1::RollbackRequest req;
  req.set_to(std::string(200, 'a'));
  v1::RollbackResponse resp;
  done = b_->fleet->Rollback(&context, &req, &resp);
  EXPECT_EQ(done.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(done.error_message().find("rollback.to"), std::string::npos);
}

TEST_F(RolloutForwardingTest, TheLeaderDropsMalformedAndLateRequests) {
  // Straight onto the leader's forwarding: garbage, an empty action, a bad field, a request
  // whose asker gave up. None crashes, none changes the rollout, none is answered.
  RolloutForwarding& leader = *a_->forwarding;
  EXPECT_TRUE(leader.OnMessage({"b", "rollout_ask", "r1", "\xff\xff\xff"}));
  EXPECT_TRUE(leader.OnMessage({"b", "rollout_ask", "r2", ""}));
  EXPECT_TRUE(leader.OnMessage({"b", "rollout_ask", "", "x"}));
  v1::ForwardedRolloutAction far;
  far.mutable_control()->set_action(v1::ControlRolloutRequest::PROMOTE);
  far.mutable_control()->set_wave(-3);
  far.set_deadline_unix_ms(absl::ToUnixMillis(clock_.Now() + absl::Seconds(5)));
  EXPECT_TRUE(leader.OnMessage({"b", "rollout_ask", "r3", far.SerializeAsString()}));
  v1::ForwardedRolloutAction late;
  late.mutable_control()->set_action(v1::ControlRolloutRequest::PAUSE);
  late.set_deadline_unix_ms(absl::ToUnixMillis(clock_.Now() - absl::Seconds(1)));
  EXPECT_TRUE(leader.OnMessage({"b", "rollout_ask", "r4", late.SerializeAsString()}));
  EXPECT_TRUE(leader.OnMessage({"b", "rollout_answer", "nobody-asked", "\xff"}));
  EXPECT_FALSE(leader.OnMessage({"b", "event", "", ""}));
  leader.Stop();  // runs whatever was queued
  EXPECT_EQ(a_->rollout->Status({}).phase(), v1::ROLLOUT_PROGRESSING);
  EXPECT_EQ(a_->rollout->Status({}).wave(), 0u);
}

}  // namespace
}  // namespace plumb
