#pragma once

// What the load generator measures: per simulated agent, when it started, when it received a
// catalog of each revision and when the server acknowledged its report for it; plus the
// server process's memory and CPU read from /proc.

#include <map>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace plumb {
namespace bench {

// The timeline of one simulated agent.
struct AgentTimeline {
  absl::Time started = absl::InfinitePast();
  absl::Time first_catalog = absl::InfinitePast();       // first CatalogUpdate (connected)
  absl::Time first_report_acked = absl::InfinitePast();  // ReportAck of its first report
  std::map<std::string, absl::Time> catalog_at;          // revision -> CatalogUpdate received
  std::map<std::string, absl::Time> acked_at;            // revision -> ReportAck received
  std::string error;                                     // set when the stream broke
};

// Thread-safe. Simulated agents record events from gRPC's threads; the driver waits on counts.
class FleetRecorder {
 public:
  explicit FleetRecorder(int agents) : timelines_(agents) {}

  void Started(int agent, absl::Time at);
  void CatalogReceived(int agent, const std::string& revision, absl::Time at);
  void ReportAcked(int agent, const std::string& revision, absl::Time at);
  void Broken(int agent, const std::string& error);

  // Blocks until `count` agents (minus those whose stream broke) got a first catalog (or acked
  // a first report), or `deadline`. Returns how many got there.
  int WaitFirstCatalogs(int count, absl::Time deadline);
  int WaitFirstAcks(int count, absl::Time deadline);
  // Same for the catalog of, and acknowledged report on, one revision.
  int WaitRevisionCatalogs(const std::string& revision, int count, absl::Time deadline);
  int WaitRevisionAcks(const std::string& revision, int count, absl::Time deadline);

  int broken() const;
  // A copy of every timeline, for the final statistics.
  std::vector<AgentTimeline> Snapshot() const;

 private:
  int WaitCount(const int* counter, int count, absl::Time deadline);

  mutable absl::Mutex mu_;
  std::vector<AgentTimeline> timelines_ ABSL_GUARDED_BY(mu_);
  int first_catalogs_ ABSL_GUARDED_BY(mu_) = 0;
  int first_acks_ ABSL_GUARDED_BY(mu_) = 0;
  int broken_ ABSL_GUARDED_BY(mu_) = 0;
  std::map<std::string, int> catalogs_by_rev_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> acks_by_rev_ ABSL_GUARDED_BY(mu_);
};

// p50 / p99 / max of a set of durations (all zero when empty).
struct Spread {
  int count = 0;
  absl::Duration p50, p99, max;
};
Spread SpreadOf(std::vector<absl::Duration> samples);
std::string FormatSeconds(absl::Duration d);  // "0.412 s"

// One reading of a process's /proc files.
struct ProcessSample {
  bool ok = false;
  int64_t rss_kb = 0;      // VmRSS
  int64_t hwm_kb = 0;      // VmHWM (peak RSS)
  int threads = 0;
  double cpu_seconds = 0;  // utime + stime
  int open_fds = 0;
};
// `ok` is false when the process cannot be read (gone, or pid 0).
ProcessSample SampleProcess(int pid);

}  // namespace bench
}  // namespace plumb
