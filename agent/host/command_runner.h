#pragma once

// Running commands as a seam: exec resources, dpkg-query/apt-get, systemctl, getent/useradd
// all go through a CommandRunner, so tests can record or fake them.

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace plumb {

// One command to run. argv[0] is looked up on PATH (the PATH of `env` if it sets one, else
// the agent's) unless it contains a '/'.
struct Command {
  std::vector<std::string> argv;
  std::string cwd;                            // empty: the agent's working directory
  std::map<std::string, std::string> env;     // added to (overriding) the agent's environment
  absl::Duration timeout = absl::Minutes(5);  // then the whole process group is killed
  size_t max_output = 64 * 1024;              // per stream; the tail is kept
};

// How a command ended.
struct CommandResult {
  int exit_code = -1;      // -1 when killed by a signal
  int signal = 0;          // the signal that killed it, or 0
  bool timed_out = false;  // the runner killed it at the timeout
  std::string stdout_text;
  std::string stderr_text;
  bool output_truncated = false;

  bool success() const { return exit_code == 0 && !timed_out; }
  // "exit 3", "killed by signal 9", "timed out after 30s".
  std::string Describe() const;
};

// Runs commands. Implementations are thread-safe.
class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // Runs `command` to completion (or timeout). A non-zero exit is a result, not an error;
  // errors are failures to start it: NotFound when argv[0] is not found, InvalidArgument for
  // an empty argv, others from fork/exec/chdir.
  virtual absl::StatusOr<CommandResult> Run(const Command& command) = 0;
};

// The real runner: fork/exec in a new process group, stdin from /dev/null, stdout and stderr
// captured through pipes. At the timeout the group gets SIGTERM, then SIGKILL a second later.
std::unique_ptr<CommandRunner> NewRealCommandRunner();

// {"/bin/sh", "-c", script}.
std::vector<std::string> ShellArgv(const std::string& script);

// Runs `command` and returns its stdout. Failing to start it, or a non-success end, is an
// error whose message names argv[0], how it ended and the tail of its stderr (or stdout).
absl::StatusOr<std::string> RunForOutput(CommandRunner* runner, const Command& command);

// The last `max_bytes` of `text` (whole lines where possible), trimmed of surrounding blank
// space, prefixed with "..." when cut.
std::string OutputTail(const std::string& text, size_t max_bytes);

}  // namespace plumb
