#include "common/logging.h"

#include <atomic>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace plumb {
namespace {

std::atomic<int> min_level{static_cast<int>(LogLevel::kInfo)};

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarning: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

// Values longer than this are cut (with a note of how much): a peer's oversized field must not
// turn into a multi-megabyte log line.
constexpr size_t kMaxValueBytes = 2048;

// Quotes values with spaces, quotes, '=' or control characters so a line stays one
// machine-parseable logfmt line: control characters (CR, LF, ESC, ...) are escaped, so a value
// sent by a peer (a node name, a label) cannot forge log lines or terminal sequences.
void AppendValue(std::string* out, absl::string_view value) {
  size_t cut = 0;
  if (value.size() > kMaxValueBytes) {
    cut = value.size() - kMaxValueBytes;
    value = value.substr(0, kMaxValueBytes);
  }
  bool quote = value.empty() || cut > 0;
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    quote |= c == ' ' || c == '"' || c == '=' || u < 0x20 || u == 0x7f;
  }
  if (!quote) {
    out->append(value.data(), value.size());
    return;
  }
  out->push_back('"');
  for (char c : value) {
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(c);
    } else if (c == '\n') {
      out->append("\\n");
    } else if (c == '\r') {
      out->append("\\r");
    } else if (c == '\t') {
      out->append("\\t");
    } else if (u < 0x20 || u == 0x7f) {
      absl::StrAppend(out, "\\x", absl::Hex(u, absl::kZeroPad2));
    } else {
      out->push_back(c);
    }
  }
  if (cut > 0) absl::StrAppend(out, "...(", cut, " more bytes)");
  out->push_back('"');
}

}  // namespace

void SetLogLevel(LogLevel level) { min_level.store(static_cast<int>(level)); }

bool ParseLogLevel(absl::string_view text, LogLevel* level) {
  if (text == "debug") *level = LogLevel::kDebug;
  else if (text == "info") *level = LogLevel::kInfo;
  else if (text == "warn" || text == "warning") *level = LogLevel::kWarning;
  else if (text == "error") *level = LogLevel::kError;
  else return false;
  return true;
}

void Log(LogLevel level, absl::string_view msg, std::initializer_list<LogField> fields) {
  if (static_cast<int>(level) < min_level.load(std::memory_order_relaxed)) return;
  std::string line = absl::StrCat(
      "ts=", absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", absl::Now(), absl::UTCTimeZone()),
      " level=", LevelName(level), " msg=");
  AppendValue(&line, msg);
  for (const LogField& f : fields) {
    line.push_back(' ');
    line.append(f.key);
    line.push_back('=');
    AppendValue(&line, f.value);
  }
  line.push_back('\n');
  // One fwrite per line keeps lines from different threads whole.
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace plumb
