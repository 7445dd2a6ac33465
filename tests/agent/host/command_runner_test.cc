#include "agent/host/command_runner.h"

#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using ::plumb::testing::ReadFileOrEmpty;
using ::plumb::testing::TempDir;
using ::plumb::testing::WriteFileOrDie;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// True while `pid` is a live (not zombie) process.
bool Alive(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return false;
  std::string line;
  std::getline(stat, line);
  size_t paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] != 'Z';
}

bool WaitUntilDead(int pid, std::chrono::milliseconds limit) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!Alive(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return !Alive(pid);
}

class CommandRunnerTest : public ::testing::Test {
 protected:
  absl::StatusOr<CommandResult> Sh(const std::string& script, Command command = {}) {
    command.argv = ShellArgv(script);
    return runner_->Run(command);
  }
  std::unique_ptr<CommandRunner> runner_ = NewRealCommandRunner();
  TempDir dir_;
};

TEST_F(CommandRunnerTest, CapturesStdoutStderrAndExitCode) {
  absl::StatusOr<CommandResult> result = Sh("echo out; echo err >&2; exit 7");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 7);
  EXPECT_FALSE(result->success());
  EXPECT_EQ(result->stdout_text, "out\n");
  EXPECT_EQ(result->stderr_text, "err\n");
  EXPECT_EQ(result->Describe(), "exit 7");
}

TEST_F(CommandRunnerTest, ArgvIsNotInterpretedByAShell) {
  Command command;
  command.argv = {"echo", "$HOME", "a;b"};
  absl::StatusOr<CommandResult> result = runner_->Run(command);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->stdout_text, "$HOME a;b\n");
}

TEST_F(CommandRunnerTest, EnvAndCwd) {
  Command command;
  command.cwd = dir_.path();
  command.env["PLUMB_TEST_VAR"] = "value 1";
  absl::StatusOr<CommandResult> result = Sh("echo \"$PLUMB_TEST_VAR\"; pwd", command);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->stdout_text, "value 1\n" + dir_.path() + "\n");
}

TEST_F(CommandRunnerTest, MissingCommandOrCwdIsAnError) {
  Command command;
  command.argv = {"plumb-no-such-command"};
  EXPECT_TRUE(absl::IsNotFound(runner_->Run(command).status()));
  command.argv = {"/bin/true"};
  command.cwd = dir_.Sub("missing");
  absl::StatusOr<CommandResult> result = runner_->Run(command);
  EXPECT_TRUE(absl::IsNotFound(result.status())) << result.status();
  command.argv = {};
  EXPECT_TRUE(absl::IsInvalidArgument(runner_->Run(command).status()));
}

TEST_F(CommandRunnerTest, PathOfTheCommandEnvironmentIsSearched) {
  WriteFileOrDie(dir_.Sub("bin/plumb-hello"), "#!/bin/sh\necho hello from fake\n");
  chmod(dir_.Sub("bin/plumb-hello").c_str(), 0755);
  Command command;
  command.argv = {"plumb-hello"};
  command.env["PATH"] = dir_.Sub("bin") + ":/usr/bin:/bin";
  absl::StatusOr<CommandResult> result = runner_->Run(command);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_text, "hello from fake\n");
}

TEST_F(CommandRunnerTest, TimeoutKillsTheWholeProcessGroup) {
  Command command;
  command.timeout = absl::Milliseconds(300);
  std::string pidfile = dir_.Sub("pid");
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<CommandResult> result = Sh("sleep 60 & echo $! > " + pidfile + "; wait", command);
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_TRUE(result->timed_out);
  EXPECT_FALSE(result->success());
  EXPECT_LT(elapsed, std::chrono::seconds(5));
  int pid = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFileOrEmpty(pidfile)), &pid));
  EXPECT_TRUE(WaitUntilDead(pid, std::chrono::seconds(3))) << "background sleep survived";
}

TEST_F(CommandRunnerTest, TermIgnoringCommandIsKilled) {
  Command command;
  command.timeout = absl::Milliseconds(200);
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<CommandResult> result = Sh("trap '' TERM; while :; do sleep 0.05; done", command);
  ASSERT_TRUE(result.ok());
  EXPECT_TRUE(result->timed_out);
  EXPECT_EQ(result->signal, SIGKILL);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(CommandRunnerTest, BackgroundChildHoldingOutputDoesNotBlock) {
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<CommandResult> result = Sh("sleep 3 & echo done");
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->stdout_text, "done\n");
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(2500));
}

TEST_F(CommandRunnerTest, OutputIsBoundedKeepingTheTail) {
  Command command;
  command.max_output = 1000;
  absl::StatusOr<CommandResult> result =
      Sh("i=0; while [ $i -lt 20000 ]; do echo line$i; i=$((i+1)); done", command);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->stdout_text.size(), 1000u);
  EXPECT_TRUE(result->output_truncated);
  EXPECT_THAT(result->stdout_text, HasSubstr("line19999\n"));
}

TEST(OutputTailTest, KeepsWholeLastLines) {
  EXPECT_EQ(OutputTail("  short \n", 100), "short");
  EXPECT_EQ(OutputTail("aaaa\nbbbb\ncccc", 8), "...cccc");
}

TEST(RunForOutputTest, NamesCommandAndStderrOnFailure) {
  std::unique_ptr<CommandRunner> runner = NewRealCommandRunner();
  Command command;
  command.argv = ShellArgv("echo nope >&2; exit 2");
  absl::StatusOr<std::string> out = RunForOutput(runner.get(), command);
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), StartsWith("/bin/sh failed (exit 2): nope"));
}

}  // namespace
}  // namespace plumb
