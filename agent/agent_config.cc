#include "agent/agent_config.h"

#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/agent_tls.h"
#include "common/secure_files.h"
#include "common/config_file.h"
#include "common/status_macros.h"

namespace plumb {
namespace {

const std::set<std::string>& Keys() { return AgentConfigKeys(); }
const std::set<std::string>& MapKeys() { return AgentConfigMapKeys(); }

}  // namespace

const std::set<std::string>& AgentConfigKeys() {
  static const auto* keys = new std::set<std::string>{
      "server", "node", "state_dir", "root", "interval", "splay", "tls.ca", "tls.cert",
      "tls.key", "insecure", "once", "noop", "log_level"};
  return *keys;
}

const std::set<std::string>& AgentConfigMapKeys() {
  static const auto* keys = new std::set<std::string>{"labels", "facts"};
  return *keys;
}

const std::set<std::string>& AgentBoolFlags() {
  static const auto* flags = new std::set<std::string>{"insecure", "once", "noop", "help", "version"};
  return *flags;
}

absl::StatusOr<AgentConfig> LoadAgentConfig(const CommandLine& flags,
                                            const std::set<std::string>& extra_flags) {
  std::set<std::string> known = Keys();
  known.insert(extra_flags.begin(), extra_flags.end());
  known.insert({"config", "help", "version", "labels", "facts", "label", "fact"});
  PLUMB_RETURN_IF_ERROR(flags.CheckKnown(known));
  ConfigValues values;
  if (flags.Has("config")) {
    PLUMB_ASSIGN_OR_RETURN(values, ConfigValues::LoadFile(flags.Get("config"), Keys(), MapKeys(),
                                                          {"server"}));
  }
  PLUMB_RETURN_IF_ERROR(values.ApplyFlags(flags, Keys(), MapKeys()));
  // --label / --fact are the singular spellings of --labels / --facts.
  for (const char* singular : {"label", "fact"}) {
    for (const std::string& kv : flags.GetAll(singular)) {
      std::string k, v;
      absl::Status s = ParseKeyValue(kv, &k, &v);
      if (!s.ok()) return absl::InvalidArgumentError(absl::StrCat("--", singular, ": ", s.message()));
      values.Set(absl::StrCat(singular, "s.", k), v);
    }
  }
  AgentConfig c;
  // `server: [a:7443, b:7443]` in the file, or `--server a:7443,b:7443`.
  std::vector<std::string> listed = values.GetList("server");
  c.server = flags.Has("server") || listed.empty() ? values.Get("server", c.server)
                                                   : absl::StrJoin(listed, ",");
  if (ServerList(c.server).empty()) return absl::InvalidArgumentError("server: no address given");
  c.node = values.Get("node");
  if (c.node.empty()) {
    char host[256] = {0};
    gethostname(host, sizeof(host) - 1);
    c.node = host;
  }
  c.labels = values.GetMap("labels");
  c.facts = values.GetMap("facts");
  c.state_dir = values.Get("state_dir", c.state_dir);
  c.root = values.Get("root", c.root);
  PLUMB_ASSIGN_OR_RETURN(c.interval, values.GetDuration("interval", c.interval));
  PLUMB_ASSIGN_OR_RETURN(c.splay, values.GetDuration("splay", c.splay));
  c.tls = {values.Get("tls.ca"), values.Get("tls.cert"), values.Get("tls.key")};
  PLUMB_ASSIGN_OR_RETURN(c.insecure, values.GetBool("insecure", false));
  TlsFiles enrolled = EnrolledTlsFiles(c.state_dir);
  if (!c.insecure && c.tls.empty() && FileExists(enrolled.cert)) c.tls = enrolled;
  PLUMB_ASSIGN_OR_RETURN(c.once, values.GetBool("once", false));
  PLUMB_ASSIGN_OR_RETURN(c.noop, values.GetBool("noop", false));
  c.log_level = values.Get("log_level", c.log_level);
  if (c.root.empty() || c.root[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(values.Named("root"), " must be an absolute path, got \"", c.root, "\""));
  }
  if (c.interval < absl::Seconds(1)) return absl::InvalidArgumentError(absl::StrCat(values.Named("interval"), " must be at least 1s"));
  return c;
}

std::vector<std::string> ServerList(const std::string& server) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(server, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (!part.empty()) out.emplace_back(part);
  }
  return out;
}

}  // namespace plumb
