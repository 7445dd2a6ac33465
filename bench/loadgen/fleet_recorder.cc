#include "bench/loadgen/fleet_recorder.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace plumb {
namespace bench {

void FleetRecorder::Started(int agent, absl::Time at) {
  absl::MutexLock lock(&mu_);
  timelines_[agent].started = at;
}

void FleetRecorder::CatalogReceived(int agent, const std::string& revision, absl::Time at) {
  absl::MutexLock lock(&mu_);
  AgentTimeline& t = timelines_[agent];
  if (t.first_catalog == absl::InfinitePast()) {
    t.first_catalog = at;
    ++first_catalogs_;
  }
  // The first update of a revision counts: later ones only follow the agent's own acks.
  if (t.catalog_at.emplace(revision, at).second) ++catalogs_by_rev_[revision];
}

void FleetRecorder::ReportAcked(int agent, const std::string& revision, absl::Time at) {
  absl::MutexLock lock(&mu_);
  AgentTimeline& t = timelines_[agent];
  if (t.first_report_acked == absl::InfinitePast()) {
    t.first_report_acked = at;
    ++first_acks_;
  }
  if (t.acked_at.emplace(revision, at).second) ++acks_by_rev_[revision];
}

void FleetRecorder::Broken(int agent, const std::string& error) {
  absl::MutexLock lock(&mu_);
  AgentTimeline& t = timelines_[agent];
  if (!t.error.empty()) return;
  t.error = error.empty() ? "stream ended" : error;
  ++broken_;
}

int FleetRecorder::WaitCount(const int* counter, int count, absl::Time deadline) {
  auto done = [this, counter, count]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return *counter >= count - broken_;  // broken streams will never get there
  };
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithDeadline(absl::Condition(&done), deadline);
  return *counter;
}

int FleetRecorder::WaitFirstCatalogs(int count, absl::Time deadline) {
  return WaitCount(&first_catalogs_, count, deadline);
}

int FleetRecorder::WaitFirstAcks(int count, absl::Time deadline) {
  return WaitCount(&first_acks_, count, deadline);
}

int FleetRecorder::WaitRevisionCatalogs(const std::string& revision, int count,
                                        absl::Time deadline) {
  int* counter;
  {
    absl::MutexLock lock(&mu_);
    counter = &catalogs_by_rev_[revision];  // std::map keeps element addresses stable
  }
  return WaitCount(counter, count, deadline);
}

int FleetRecorder::WaitRevisionAcks(const std::string& revision, int count, absl::Time deadline) {
  int* counter;
  {
    absl::MutexLock lock(&mu_);
    counter = &acks_by_rev_[revision];
  }
  return WaitCount(counter, count, deadline);
}

int FleetRecorder::broken() const {
  absl::MutexLock lock(&mu_);
  return broken_;
}

std::vector<AgentTimeline> FleetRecorder::Snapshot() const {
  absl::MutexLock lock(&mu_);
  return timelines_;
}

Spread SpreadOf(std::vector<absl::Duration> samples) {
  Spread s;
  s.count = static_cast<int>(samples.size());
  if (samples.empty()) return s;
  std::sort(samples.begin(), samples.end());
  // Nearest-rank percentiles: the smallest sample with at least p% of samples at or below it.
  auto rank = [&](double p) {
    size_t k = static_cast<size_t>(p / 100.0 * samples.size() + 0.999999);
    return samples[std::min(samples.size(), std::max<size_t>(k, 1)) - 1];
  };
  s.p50 = rank(50);
  s.p99 = rank(99);
  s.max = samples.back();
  return s;
}

std::string FormatSeconds(absl::Duration d) {
  return absl::StrFormat("%.3f s", absl::ToDoubleSeconds(d));
}

namespace {

int64_t StatusField(const std::string& status, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(status, '\n')) {
    if (!absl::ConsumePrefix(&line, key)) continue;
    absl::ConsumePrefix(&line, ":");
    line = absl::StripAsciiWhitespace(line);
    absl::ConsumeSuffix(&line, " kB");
    int64_t v = 0;
    if (absl::SimpleAtoi(line, &v)) return v;
  }
  return 0;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

ProcessSample SampleProcess(int pid) {
  ProcessSample s;
  if (pid <= 0) return s;
  std::string proc = absl::StrCat("/proc/", pid);
  std::string status = ReadAll(proc + "/status");
  if (status.empty()) return s;
  s.rss_kb = StatusField(status, "VmRSS");
  s.hwm_kb = StatusField(status, "VmHWM");
  s.threads = static_cast<int>(StatusField(status, "Threads"));
  // /proc/PID/stat: the command may hold spaces, so count fields after the last ')'.
  std::string stat = ReadAll(proc + "/stat");
  size_t paren = stat.rfind(')');
  if (paren != std::string::npos) {
    std::vector<std::string> fields = absl::StrSplit(stat.substr(paren + 2), ' ');
    // Fields 14 and 15 of stat (utime, stime) are 11 and 12 after the state field (3).
    int64_t utime = 0, stime = 0;
    if (fields.size() > 12 && absl::SimpleAtoi(fields[11], &utime) &&
        absl::SimpleAtoi(fields[12], &stime)) {
      s.cpu_seconds = static_cast<double>(utime + stime) / sysconf(_SC_CLK_TCK);
    }
  }
  if (DIR* dir = opendir((proc + "/fd").c_str())) {
    while (readdir(dir) != nullptr) ++s.open_fds;
    closedir(dir);
    s.open_fds -= 2;  // "." and ".."
  }
  s.ok = true;
  return s;
}

}  // namespace bench
}  // namespace plumb
