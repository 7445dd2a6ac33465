#pragma once

// How plumbctl prints: aligned tables for people, JSON (protobuf's JSON mapping) for scripts.

#include <string>
#include <vector>

#include "google/protobuf/message.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

enum class OutputFormat { kTable, kJson };

// A table printed with columns padded to their widest cell.
class Table {
 public:
  explicit Table(std::vector<std::string> header) : rows_{std::move(header)} {}
  void AddRow(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
  std::string ToString() const;

 private:
  std::vector<std::vector<std::string>> rows_;
};

// The message in protobuf's JSON mapping, with default-valued fields included, indented.
std::string ToJson(const google::protobuf::Message& message);
// The same on one line (no whitespace): for streams of one JSON object per line.
std::string ToJsonLine(const google::protobuf::Message& message);

// "converged", "failed", ... for people.
std::string NodeStatusName(v1::NodeStatus status);
std::string OutcomeName(v1::ResourceOutcome outcome);
std::string TriggerName(v1::RunTrigger trigger);
// "2026-11-26 11:30:05" in UTC, or "-" for 0.
std::string FormatUnixMs(int64_t unix_ms);
// "3m ago", or "-" for 0.
std::string Ago(int64_t unix_ms, int64_t now_ms);
std::string ShortSha(const std::string& sha);
// The text with each run of line breaks replaced by " | ", for one table cell.
std::string OneLine(const std::string& text);

}  // namespace plumb
