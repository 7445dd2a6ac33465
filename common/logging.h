#pragma once

// Structured one-line logging to stderr: `ts=... level=info msg="..." key=value ...`.
// Thread-safe. The minimum level is process-wide configuration set once by main().

#include <string>
#include "absl/strings/string_view.h"
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace plumb {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// Sets the minimum level that is written. Call from main() before threads start.
void SetLogLevel(LogLevel level);
// Parses "debug", "info", "warn", "error"; returns false on anything else.
bool ParseLogLevel(absl::string_view text, LogLevel* level);

// One key=value pair of a log line.
struct LogField {
  template <typename T>
  LogField(absl::string_view k, const T& v) : key(k.data(), k.size()), value(absl::StrCat(v)) {}
  LogField(absl::string_view k, const std::string& v) : key(k.data(), k.size()), value(v) {}
  LogField(absl::string_view k, absl::string_view v) : key(k.data(), k.size()), value(v.data(), v.size()) {}
  LogField(absl::string_view k, const char* v) : key(k.data(), k.size()), value(v) {}
  std::string key;
  std::string value;
};

void Log(LogLevel level, absl::string_view msg, std::initializer_list<LogField> fields = {});

inline void LogInfo(absl::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kInfo, m, f);
}
inline void LogWarning(absl::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kWarning, m, f);
}
inline void LogError(absl::string_view m, std::initializer_list<LogField> f = {}) {
  Log(LogLevel::kError, m, f);
}

}  // namespace plumb
