#pragma once

// The agent's disk queue of reports not yet acknowledged by the server. A report is written
// (atomically) before it is sent and deleted only when its ReportAck arrives, so neither a
// crash nor an outage loses one; re-sends carry the same id, which the server stores once.

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

// Thread-safe.
class ReportQueue {
 public:
  // `dir` is created if missing.
  static absl::StatusOr<std::unique_ptr<ReportQueue>> Open(const std::string& dir);

  absl::Status Enqueue(const v1::Report& report);
  // Every queued report, oldest first. Unreadable files are skipped with a warning (and kept).
  std::vector<v1::Report> Pending();
  // Removes the report; OK if it is already gone.
  absl::Status Remove(const std::string& report_id);
  size_t size();

 private:
  explicit ReportQueue(std::string dir) : dir_(std::move(dir)) {}
  std::string FileFor(const std::string& id) const;

  const std::string dir_;
  absl::Mutex mu_;
};

}  // namespace plumb
