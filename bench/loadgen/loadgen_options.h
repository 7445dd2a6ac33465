#pragma once

// The load generator's command line.

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace plumb {
namespace bench {

// A label whose value is chosen per agent: `role=web|db` gives agent i the (i mod 2)th value.
struct LabelChoice {
  std::string key;
  std::vector<std::string> values;
};

// What one load-generator run does; see kLoadgenUsage for each flag.
struct LoadgenOptions {
  int agents = 100;
  std::string server = "127.0.0.1:7443";
  int channels = 0;                       // 0: one connection per agent, like a real fleet
  absl::Duration duration = absl::Seconds(120);  // the whole run, connect to last report
  absl::Duration apply_delay = absl::Milliseconds(100);
  double ramp = 0;                        // agents started per second; 0: all at once
  std::vector<LabelChoice> labels;
  std::string name_prefix = "sim-";
  int server_pid = 0;                     // for RSS/CPU from /proc; 0: not sampled
  std::string commit_cmd;                 // run (sh -c) once connected; then FleetService.Sync
  absl::Duration settle = absl::Seconds(1);  // pause between connect phase and commit
  absl::Duration hold = absl::ZeroDuration();  // without --commit-cmd: keep streams open this long
  std::string tls_ca_dir;                 // mutual TLS with certificates minted from this CA
};

// The node name and labels of agent `index`.
std::string NodeName(const LoadgenOptions& options, int index);
std::map<std::string, std::string> LabelsOf(const LoadgenOptions& options, int index);

// Parses argv. InvalidArgument naming the flag on bad input; `*help` is set for --help.
absl::StatusOr<LoadgenOptions> ParseLoadgenOptions(int argc, char** argv, bool* help);

extern const char kLoadgenUsage[];

}  // namespace bench
}  // namespace plumb
