#pragma once

// Shared test helpers: temporary directories, files and shell commands (for the git CLI).

#include <string>

namespace plumb::testing {

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  // path() + "/" + relative
  std::string Sub(const std::string& relative) const { return path_ + "/" + relative; }

 private:
  std::string path_;
};

// Writes `content` to `path`, creating parent directories. Aborts the test on failure.
void WriteFileOrDie(const std::string& path, const std::string& content);
// Returns the file's content, or "<missing>" if it cannot be read.
std::string ReadFileOrEmpty(const std::string& path);
// Runs `command` with /bin/sh -c; returns its exit status and puts stdout+stderr in `output`.
int RunShell(const std::string& command, std::string* output = nullptr);
// Single-quotes `text` for the shell.
std::string ShellQuote(const std::string& text);

}  // namespace plumb::testing
