#include "agent/host/command_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "agent/host/rooted_path.h"
#include "agent/host/system_error.h"

extern char** environ;

namespace plumb {

std::string CommandResult::Describe() const {
  if (timed_out) return "timed out";
  if (signal != 0) return absl::StrCat("killed by signal ", signal);
  return absl::StrCat("exit ", exit_code);
}

std::vector<std::string> ShellArgv(const std::string& script) { return {"/bin/sh", "-c", script}; }

std::string OutputTail(const std::string& text, size_t max_bytes) {
  absl::string_view view = absl::StripAsciiWhitespace(text);
  if (view.size() <= max_bytes) return std::string(view);
  view = view.substr(view.size() - max_bytes);
  size_t newline = view.find('\n');
  if (newline != absl::string_view::npos && newline + 1 < view.size()) {
    view = view.substr(newline + 1);
  }
  return absl::StrCat("...", view);
}

absl::StatusOr<std::string> RunForOutput(CommandRunner* runner, const Command& command) {
  PLUMB_ASSIGN_OR_RETURN(CommandResult result, runner->Run(command));
  if (result.success()) return std::move(result.stdout_text);
  std::string output =
      OutputTail(result.stderr_text.empty() ? result.stdout_text : result.stderr_text, 1024);
  std::string name = command.argv.empty() ? "command" : command.argv[0];
  return absl::FailedPreconditionError(
      absl::StrCat(name, " failed (", result.Describe(), ")", output.empty() ? "" : ": ", output));
}

namespace {

using SteadyClock = std::chrono::steady_clock;
constexpr auto kKillGrace = std::chrono::seconds(1);
constexpr char kDefaultPath[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// Keeps the last `max` bytes written to it.
struct Capture {
  explicit Capture(size_t limit) : max(limit) {}
  void Add(const char* data, size_t n) {
    text.append(data, n);
    if (text.size() > 2 * max + 4096) Trim();
  }
  void Trim() {
    if (text.size() <= max) return;
    text.erase(0, text.size() - max);
    truncated = true;
  }
  size_t max;
  std::string text;
  bool truncated = false;
};

// What the child reports through the exec-status pipe when it cannot run the command.
struct ChildFailure {
  int stage;  // 0: chdir, 1: exec
  int err;
};

std::map<std::string, std::string> BuildEnvironment(const Command& command) {
  std::map<std::string, std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string entry = *e;
    size_t eq = entry.find('=');
    if (eq != std::string::npos) env[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [key, value] : command.env) env[key] = value;
  return env;
}

absl::StatusOr<std::string> FindExecutable(const std::string& name, const std::string& path) {
  if (name.find('/') != std::string::npos) return name;
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    std::string candidate = absl::StrCat(dir.empty() ? "." : dir, "/", name);
    struct stat st;
    if (stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return absl::NotFoundError(absl::StrCat("command not found: ", name));
}

// Reads what is available on `fd` into `capture`; returns false at end of file or error.
bool ReadSome(int fd, Capture* capture) {
  char buf[16384];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      capture->Add(buf, static_cast<size_t>(n));
      if (static_cast<size_t>(n) < sizeof(buf)) return true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return true;
    return false;
  }
}

// True once the child has exited; it stays a zombie (not reaped), so its pid, and with it the
// process group id, cannot be reused before we signal the group.
bool ChildExited(pid_t pid) {
  siginfo_t info{};
  return waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid;
}

[[noreturn]] void RunChild(const Command& command, const char* exe, char** argv, char** envp,
                           int devnull, int out, int err, int status_fd) {
  setpgid(0, 0);
  sigset_t all;
  sigemptyset(&all);
  sigprocmask(SIG_SETMASK, &all, nullptr);
  signal(SIGPIPE, SIG_DFL);
  dup2(devnull, 0);
  dup2(out, 1);
  dup2(err, 2);
  ChildFailure failure{0, 0};
  if (!command.cwd.empty() && chdir(command.cwd.c_str()) != 0) {
    failure = {0, errno};
  } else {
    execve(exe, argv, envp);
    failure = {1, errno};
  }
  ssize_t ignored = write(status_fd, &failure, sizeof(failure));
  (void)ignored;
  _exit(127);
}

// Supervises a started child: captures output, enforces the timeout, reaps it.
CommandResult Supervise(pid_t pid, const Command& command, int out_fd, int err_fd) {
  CommandResult result;
  Capture out(command.max_output), err(command.max_output);
  fcntl(out_fd, F_SETFL, O_NONBLOCK);
  fcntl(err_fd, F_SETFL, O_NONBLOCK);
  bool out_open = true, err_open = true, term_sent = false, kill_sent = false;
  const bool has_deadline = command.timeout != absl::InfiniteDuration();
  const auto deadline =
      SteadyClock::now() +
      std::chrono::microseconds(has_deadline ? absl::ToInt64Microseconds(command.timeout) : 0);
  SteadyClock::time_point term_at;
  for (;;) {
    bool exited = ChildExited(pid);
    // Whatever is already in the pipes is still collected after the child is gone; a
    // background grandchild keeping them open must not keep us waiting.
    if (out_open) out_open = ReadSome(out_fd, &out);
    if (err_open) err_open = ReadSome(err_fd, &err);
    if (exited) break;
    auto now = SteadyClock::now();
    if (has_deadline && !term_sent && now >= deadline) {
      kill(-pid, SIGTERM);
      term_sent = true;
      result.timed_out = true;
      term_at = now;
    }
    if (term_sent && !kill_sent && now >= term_at + kKillGrace) {
      kill(-pid, SIGKILL);
      kill_sent = true;
    }
    struct pollfd fds[2];
    nfds_t n = 0;
    if (out_open) fds[n++] = {out_fd, POLLIN, 0};
    if (err_open) fds[n++] = {err_fd, POLLIN, 0};
    int wait_ms = 50;
    if (has_deadline && !term_sent) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
      if (left < wait_ms) wait_ms = static_cast<int>(left < 0 ? 0 : left);
    }
    if (n > 0) {
      poll(fds, n, wait_ms);
    } else {
      // Both pipes closed: the child is exiting or has closed its output; check back soon.
      usleep(static_cast<useconds_t>(wait_ms < 5 ? wait_ms : 5) * 1000);
    }
  }
  // After a timeout nothing of the group may survive, background children included.
  if (result.timed_out) kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  out.Trim();
  err.Trim();
  result.stdout_text = std::move(out.text);
  result.stderr_text = std::move(err.text);
  result.output_truncated = out.truncated || err.truncated;
  return result;
}

// Fork/exec runner. Stateless, so thread-safe.
class RealCommandRunner : public CommandRunner {
 public:
  absl::StatusOr<CommandResult> Run(const Command& command) override {
    if (command.argv.empty()) return absl::InvalidArgumentError("empty command");
    std::map<std::string, std::string> env = BuildEnvironment(command);
    auto path_it = env.find("PATH");
    std::string path = path_it == env.end() ? kDefaultPath : path_it->second;
    PLUMB_ASSIGN_OR_RETURN(std::string exe, FindExecutable(command.argv[0], path));

    // Everything the child needs is built before fork: it may only make async-signal-safe
    // calls, and the agent has other threads.
    std::vector<std::string> env_strings;
    for (const auto& [key, value] : env) env_strings.push_back(absl::StrCat(key, "=", value));
    std::vector<char*> argv, envp;
    for (const std::string& a : command.argv) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const std::string& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    int out[2], err[2], status[2];
    if (pipe2(out, O_CLOEXEC) != 0) return ErrnoError(errno, "pipe");
    UniqueFd out_r(out[0]), out_w(out[1]);
    if (pipe2(err, O_CLOEXEC) != 0) return ErrnoError(errno, "pipe");
    UniqueFd err_r(err[0]), err_w(err[1]);
    if (pipe2(status, O_CLOEXEC) != 0) return ErrnoError(errno, "pipe");
    UniqueFd status_r(status[0]), status_w(status[1]);
    UniqueFd devnull(open("/dev/null", O_RDONLY | O_CLOEXEC));
    if (!devnull.valid()) return ErrnoError(errno, "open /dev/null");

    pid_t pid = fork();
    if (pid < 0) return ErrnoError(errno, "fork");
    if (pid == 0) {
      RunChild(command, exe.c_str(), argv.data(), envp.data(), devnull.get(), out_w.get(),
               err_w.get(), status_w.get());
    }
    setpgid(pid, pid);  // also in the parent, so the group exists before any kill(-pid)
    out_w.Reset();
    err_w.Reset();
    status_w.Reset();

    ChildFailure failure{};
    ssize_t n;
    do {
      n = read(status_r.get(), &failure, sizeof(failure));
    } while (n < 0 && errno == EINTR);
    if (n == static_cast<ssize_t>(sizeof(failure))) {
      int wstatus;
      while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
      }
      if (failure.stage == 0) return ErrnoError(failure.err, "chdir " + command.cwd);
      return ErrnoError(failure.err, "exec " + exe);
    }
    return Supervise(pid, command, out_r.get(), err_r.get());
  }
};

}  // namespace

std::unique_ptr<CommandRunner> NewRealCommandRunner() {
  return std::make_unique<RealCommandRunner>();
}

}  // namespace plumb
