// The rollout health check on the agent: exit status, bounded output, timeouts, failures to
// start, through the command-runner seam.

#include "agent/health_check.h"

#include <string>

#include "common/wire_limits.h"
#include "gtest/gtest.h"
#include "tests/agent/agent_test_fakes.h"

namespace plumb {
namespace {

using ::plumb::testing::ScriptedCommandRunner;

v1::HealthCheck Check(const std::string& exec) {
  v1::HealthCheck check;
  check.set_exec(exec);
  check.set_timeout_ms(5000);
  return check;
}

TEST(HealthCheckTest, RunsThroughTheShellAndReportsExitAndOutput) {
  ScriptedCommandRunner runner;
  runner.On("/bin/sh -c /usr/local/bin/healthy", 3, "checking nginx\n", "nginx is down");
  v1::HealthCheckResult r = RunHealthCheck(&runner, Check("/usr/local/bin/healthy"));
  EXPECT_EQ(r.exit_status(), 3);
  EXPECT_EQ(r.output(), "checking nginx\nnginx is down");
  EXPECT_FALSE(r.timed_out());
  ASSERT_EQ(runner.calls().size(), 1u);
}

TEST(HealthCheckTest, OutputIsCutToTheWireLimit) {
  ScriptedCommandRunner runner;
  runner.On("/bin/sh -c noisy", 0, std::string(100000, 'x'));
  v1::HealthCheckResult r = RunHealthCheck(&runner, Check("noisy"));
  EXPECT_EQ(r.exit_status(), 0);
  EXPECT_LE(r.output().size(), wire::kMaxHealthOutputBytes);
  EXPECT_GT(r.output().size(), 1000u);
}

// A runner whose commands time out, or cannot start.
class FailingRunner : public CommandRunner {
 public:
  explicit FailingRunner(bool start) : start_(start) {}
  absl::StatusOr<CommandResult> Run(const Command& command) override {
    timeout = command.timeout;
    if (!start_) return absl::NotFoundError("no /bin/sh");
    CommandResult r;
    r.timed_out = true;
    r.exit_code = -1;
    return r;
  }
  absl::Duration timeout;

 private:
  bool start_;
};

TEST(HealthCheckTest, ATimeoutOrAFailureToStartFails) {
  FailingRunner slow(true);
  v1::HealthCheckResult r = RunHealthCheck(&slow, Check("sleep 100"));
  EXPECT_EQ(slow.timeout, absl::Seconds(5));
  EXPECT_TRUE(r.timed_out());
  EXPECT_NE(r.exit_status(), 0);
  FailingRunner missing(false);
  r = RunHealthCheck(&missing, Check("x"));
  EXPECT_EQ(r.exit_status(), -1);
  EXPECT_NE(r.output().find("no /bin/sh"), std::string::npos);
}

}  // namespace
}  // namespace plumb
