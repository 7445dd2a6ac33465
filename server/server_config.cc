#include "server/server_config.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/config_file.h"
#include "common/status_macros.h"

namespace plumb {

const std::set<std::string>& ServerConfigKeys() {
  static const auto* keys = new std::set<std::string>{
      // security_config.h
      "insecure_bind_any", "tls.san", "tls.agent_cert_lifetime", "operator_tokens",
      "listen", "http_listen", "repo.url", "repo.branch", "repo.poll", "repo.timeout", "state_dir",
      "tls.ca", "tls.cert", "tls.key", "insecure", "log_level", "webhook_secret",
      "retention.reports_per_node", "retention.max_age", "nodes.stale_after", "store.url",
      "store.password_file", "console_listen", "console.session_lifetime", "environments"};
  return *keys;
}

namespace {

const std::set<std::string>& Keys() { return ServerConfigKeys(); }

}  // namespace

const std::set<std::string>& ServerBoolFlags() {
  static const auto* flags = new std::set<std::string>{"insecure", "help", "version",
                                                       "insecure_bind_any", "insecure-bind-any"};
  return *flags;
}

absl::StatusOr<ServerConfig> LoadServerConfig(const CommandLine& flags, bool require_repo) {
  std::set<std::string> known = Keys();
  known.insert({"config", "help", "version", "insecure-bind-any"});
  PLUMB_RETURN_IF_ERROR(flags.CheckKnown(known));
  ConfigValues values;
  if (flags.Has("config")) {
    PLUMB_ASSIGN_OR_RETURN(values, ConfigValues::LoadFile(flags.Get("config"), Keys(), {},
                                                          SecurityListKeys(), {"environments"}));
  }
  if (flags.Has("environments")) {
    return absl::InvalidArgumentError(
        "environments is a list of {branch, labels}: set it in the config file, not as a flag");
  }
  PLUMB_RETURN_IF_ERROR(values.ApplyFlags(flags, Keys(), {}));
  ServerConfig c;
  c.listen = values.Get("listen", c.listen);
  c.http_listen = values.Get("http_listen", kDefaultHttpListen);
  c.repo_url = values.Get("repo.url");
  c.repo_branch = values.Get("repo.branch", c.repo_branch);
  c.environments = Environments::Single(c.repo_branch);
  if (const YamlNode* envs = values.GetRaw("environments"); envs != nullptr && !envs->IsNull()) {
    PLUMB_ASSIGN_OR_RETURN(c.environments, Environments::Parse(*envs, flags.Get("config")));
  }
  PLUMB_ASSIGN_OR_RETURN(c.repo_poll, values.GetDuration("repo.poll", c.repo_poll));
  PLUMB_ASSIGN_OR_RETURN(c.repo_timeout, values.GetDuration("repo.timeout", c.repo_timeout));
  c.state_dir = values.Get("state_dir", c.state_dir);
  c.store_url = values.Get("store.url");
  c.store_password_file = values.Get("store.password_file");
  if (!c.store_password_file.empty() && c.store_url.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(values.Named("store.password_file"), " needs store.url (PostgreSQL)"));
  }
  c.tls = {values.Get("tls.ca"), values.Get("tls.cert"), values.Get("tls.key")};
  PLUMB_ASSIGN_OR_RETURN(c.insecure, values.GetBool("insecure", false));
  PLUMB_RETURN_IF_ERROR(ApplySecurityConfig(values, flags, &c));
  c.log_level = values.Get("log_level", c.log_level);
  c.webhook_secret = values.Get("webhook_secret");
  c.console_listen = values.Get("console_listen");
  PLUMB_ASSIGN_OR_RETURN(c.console_session_lifetime,
                         values.GetDuration("console.session_lifetime",
                                            c.console_session_lifetime));
  if (c.console_session_lifetime < absl::Minutes(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(values.Named("console.session_lifetime"), " must be at least 1m"));
  }
  if (!c.console_listen.empty() && c.insecure) {
    return absl::InvalidArgumentError(
        "console_listen needs TLS (the console is served over HTTPS with tls.cert): "
        "it cannot be used with --insecure");
  }
  std::string keep = values.Get("retention.reports_per_node", "500");
  if (!absl::SimpleAtoi(keep, &c.retention_reports_per_node) || c.retention_reports_per_node < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "retention.reports_per_node must be a whole number >= 0 (0: no limit), got \"", keep, "\""));
  }
  PLUMB_ASSIGN_OR_RETURN(c.retention_max_age,
                         values.GetDuration("retention.max_age", c.retention_max_age));
  PLUMB_ASSIGN_OR_RETURN(c.nodes_stale_after,
                         values.GetDuration("nodes.stale_after", c.nodes_stale_after));
  if (c.nodes_stale_after < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(values.Named("nodes.stale_after"), " must not be negative (0: never stale)"));
  }
  if (c.retention_max_age < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(values.Named("retention.max_age"), " must not be negative (0: no limit)"));
  }
  if (c.repo_url.empty() && require_repo) {
    return absl::InvalidArgumentError("repo.url is required (config file or --repo.url)");
  }
  if (c.repo_poll < absl::Seconds(1)) {
    return absl::InvalidArgumentError(absl::StrCat(values.Named("repo.poll"), " must be at least 1s"));
  }
  if (c.repo_timeout < absl::Seconds(1)) {
    return absl::InvalidArgumentError(absl::StrCat(values.Named("repo.timeout"), " must be at least 1s"));
  }
  return c;
}

}  // namespace plumb
