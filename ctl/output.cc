#include "ctl/output.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/util/json_util.h"

namespace plumb {

std::string Table::ToString() const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows_) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

namespace {

std::string Json(const google::protobuf::Message& message, bool whitespace) {
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = whitespace;
  options.always_print_primitive_fields = true;
  options.preserve_proto_field_names = true;
  std::string out;
  (void)google::protobuf::util::MessageToJsonString(message, &out, options);
  return out;
}

}  // namespace

std::string ToJson(const google::protobuf::Message& message) { return Json(message, true); }

std::string ToJsonLine(const google::protobuf::Message& message) { return Json(message, false); }

std::string NodeStatusName(v1::NodeStatus status) {
  std::string name = v1::NodeStatus_Name(status);
  if (name.rfind("NODE_", 0) == 0) name = name.substr(5);
  if (status == v1::NODE_STATUS_UNSPECIFIED) name = "unknown";
  return absl::AsciiStrToLower(name);
}

std::string OutcomeName(v1::ResourceOutcome outcome) {
  return absl::AsciiStrToLower(v1::ResourceOutcome_Name(outcome));
}

std::string TriggerName(v1::RunTrigger trigger) {
  return absl::AsciiStrToLower(v1::RunTrigger_Name(trigger));
}

std::string FormatUnixMs(int64_t unix_ms) {
  if (unix_ms == 0) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", absl::FromUnixMillis(unix_ms), absl::UTCTimeZone());
}

std::string Ago(int64_t unix_ms, int64_t now_ms) {
  if (unix_ms == 0) return "-";
  int64_t s = std::max<int64_t>(0, (now_ms - unix_ms) / 1000);
  if (s < 60) return absl::StrCat(s, "s ago");
  if (s < 3600) return absl::StrCat(s / 60, "m ago");
  if (s < 86400) return absl::StrCat(s / 3600, "h ago");
  return absl::StrCat(s / 86400, "d ago");
}

std::string ShortSha(const std::string& sha) { return sha.empty() ? "-" : sha.substr(0, 12); }

std::string OneLine(const std::string& text) {
  std::string out;
  bool in_break = false;
  for (char c : absl::StripTrailingAsciiWhitespace(text)) {
    if (c == '\n' || c == '\r') {
      if (!in_break) out += " | ";
      in_break = true;
      continue;
    }
    in_break = false;
    out.push_back(c);
  }
  return out;
}

}  // namespace plumb
