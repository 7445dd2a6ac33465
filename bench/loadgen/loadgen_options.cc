#include "bench/loadgen/loadgen_options.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/command_line.h"
#include "common/status_macros.h"

namespace plumb {
namespace bench {

const char kLoadgenUsage[] = R"(usage: loadgen [flags]

Simulates many plumb agents in one process over real gRPC (AgentService.Sync), measures how
fast a commit reaches them and what the server spends on each one.

  --agents N          simulated agents (default 100)
  --server ADDR       plumb-server's gRPC address, plaintext (default 127.0.0.1:7443); a
                      comma-separated list (replicas) spreads the connections over them
  --channels K        gRPC connections the agents are spread over (default: one per agent)
  --duration D        cap on the whole run (default 120s)
  --apply-delay D     time a simulated agent "applies" before reporting (default 100ms)
  --ramp R            agents started per second (default 0: all at once)
  --labels K=V,...    labels of every agent; V may list choices a|b|c, given round-robin
  --name-prefix P     node names are P00000, P00001, ... (default sim-)
  --server-pid PID    sample the server's RSS and CPU from /proc/PID
  --commit-cmd CMD    once all agents are connected, run CMD (sh -c), then call
                      FleetService.Sync and measure until every agent has the new revision
  --settle D          pause between the connect phase and the commit (default 1s)
  --hold D            without --commit-cmd: keep the streams open this long (default 0)
  --tls-ca-dir DIR    mutual TLS: mint each agent a key and certificate (CN = its name) and an
                      operator certificate from the server's CA directory (state_dir/ca);
                      every agent then has its own connection (--channels is ignored)
)";

namespace {

absl::StatusOr<absl::Duration> DurationFlag(const CommandLine& cl, const std::string& name,
                                            absl::Duration fallback) {
  if (!cl.Has(name)) return fallback;
  auto d = ParseDurationText(cl.Get(name));
  if (!d.ok()) return absl::InvalidArgumentError(absl::StrCat("--", name, ": ", d.status().message()));
  return *d;
}

absl::StatusOr<int> IntFlag(const CommandLine& cl, const std::string& name, int fallback) {
  if (!cl.Has(name)) return fallback;
  int v = 0;
  if (!absl::SimpleAtoi(cl.Get(name), &v) || v < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, " must be a non-negative integer, got \"", cl.Get(name), "\""));
  }
  return v;
}

absl::StatusOr<std::vector<LabelChoice>> ParseLabels(const std::vector<std::string>& flags) {
  std::vector<LabelChoice> labels;
  for (const std::string& flag : flags) {
    for (absl::string_view item : absl::StrSplit(flag, ',', absl::SkipEmpty())) {
      std::string key, value;
      absl::Status s = ParseKeyValue(std::string(item), &key, &value);
      if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("--labels: ", s.message()));
      labels.push_back({key, absl::StrSplit(value, '|')});
    }
  }
  return labels;
}

}  // namespace

std::string NodeName(const LoadgenOptions& options, int index) {
  return absl::StrFormat("%s%05d", options.name_prefix, index);
}

std::map<std::string, std::string> LabelsOf(const LoadgenOptions& options, int index) {
  std::map<std::string, std::string> labels;
  for (const LabelChoice& l : options.labels) {
    labels[l.key] = l.values[static_cast<size_t>(index) % l.values.size()];
  }
  return labels;
}

absl::StatusOr<LoadgenOptions> ParseLoadgenOptions(int argc, char** argv, bool* help) {
  PLUMB_ASSIGN_OR_RETURN(CommandLine cl, CommandLine::Parse(argc, argv, {"help"}));
  PLUMB_RETURN_IF_ERROR(cl.CheckKnown(
      {"agents", "server", "channels", "duration", "apply-delay", "ramp", "labels", "label",
       "name-prefix", "server-pid", "commit-cmd", "settle", "hold", "tls-ca-dir", "help"}));
  *help = cl.GetBool("help");
  LoadgenOptions o;
  PLUMB_ASSIGN_OR_RETURN(o.agents, IntFlag(cl, "agents", o.agents));
  PLUMB_ASSIGN_OR_RETURN(o.channels, IntFlag(cl, "channels", o.channels));
  PLUMB_ASSIGN_OR_RETURN(o.server_pid, IntFlag(cl, "server-pid", 0));
  PLUMB_ASSIGN_OR_RETURN(o.duration, DurationFlag(cl, "duration", o.duration));
  PLUMB_ASSIGN_OR_RETURN(o.apply_delay, DurationFlag(cl, "apply-delay", o.apply_delay));
  PLUMB_ASSIGN_OR_RETURN(o.settle, DurationFlag(cl, "settle", o.settle));
  PLUMB_ASSIGN_OR_RETURN(o.hold, DurationFlag(cl, "hold", o.hold));
  if (cl.Has("ramp") && (!absl::SimpleAtod(cl.Get("ramp"), &o.ramp) || o.ramp < 0)) {
    return absl::InvalidArgumentError(absl::StrCat("--ramp must be agents per second, got \"",
                                                   cl.Get("ramp"), "\""));
  }
  std::vector<std::string> label_flags = cl.GetAll("labels");
  for (const std::string& l : cl.GetAll("label")) label_flags.push_back(l);
  PLUMB_ASSIGN_OR_RETURN(o.labels, ParseLabels(label_flags));
  o.server = cl.Get("server", o.server);
  o.name_prefix = cl.Get("name-prefix", o.name_prefix);
  o.commit_cmd = cl.Get("commit-cmd");
  o.tls_ca_dir = cl.Get("tls-ca-dir");
  if (o.agents < 1) return absl::InvalidArgumentError("--agents must be at least 1");
  // A connection carries one client certificate: with TLS every agent has its own.
  if (o.channels == 0 || o.channels > o.agents || !o.tls_ca_dir.empty()) o.channels = o.agents;
  return o;
}

}  // namespace bench
}  // namespace plumb
