#include "agent/report_queue.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "agent/state_files.h"
#include "common/logging.h"
#include "common/status_macros.h"

namespace plumb {

absl::StatusOr<std::unique_ptr<ReportQueue>> ReportQueue::Open(const std::string& dir) {
  PLUMB_RETURN_IF_ERROR(MakeStateDirs(dir));
  return std::unique_ptr<ReportQueue>(new ReportQueue(dir));
}

std::string ReportQueue::FileFor(const std::string& id) const {
  return absl::StrCat(dir_, "/", id, ".report");
}

absl::Status ReportQueue::Enqueue(const v1::Report& report) {
  if (report.id().empty() || report.id().find('/') != std::string::npos) {
    return absl::InvalidArgumentError("report id must be non-empty and contain no '/'");
  }
  absl::MutexLock lock(&mu_);
  return WriteStateFile(FileFor(report.id()), report.SerializeAsString());
}

std::vector<v1::Report> ReportQueue::Pending() {
  absl::MutexLock lock(&mu_);
  std::vector<v1::Report> out;
  auto names = ListStateFiles(dir_, ".report");
  if (!names.ok()) return out;
  for (const std::string& name : *names) {
    auto bytes = ReadStateFile(absl::StrCat(dir_, "/", name));
    v1::Report r;
    if (!bytes.ok() || !r.ParseFromString(*bytes)) {
      LogWarning("unreadable queued report kept aside", {{"file", name}});
      continue;
    }
    out.push_back(std::move(r));
  }
  std::stable_sort(out.begin(), out.end(), [](const v1::Report& a, const v1::Report& b) {
    return a.started_unix_ms() < b.started_unix_ms();
  });
  return out;
}

absl::Status ReportQueue::Remove(const std::string& report_id) {
  if (report_id.empty() || report_id.find('/') != std::string::npos) {
    return absl::InvalidArgumentError("bad report id");
  }
  absl::MutexLock lock(&mu_);
  if (unlink(FileFor(report_id).c_str()) != 0 && errno != ENOENT) {
    return absl::InternalError(absl::StrCat("cannot remove queued report ", report_id));
  }
  return absl::OkStatus();
}

size_t ReportQueue::size() {
  absl::MutexLock lock(&mu_);
  auto names = ListStateFiles(dir_, ".report");
  return names.ok() ? names->size() : 0;
}

}  // namespace plumb
