#include "server/security/security_config.h"

#include <arpa/inet.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/secure_files.h"
#include "common/status_macros.h"
#include "server/security/certificate_authority.h"
#include "server/server_config.h"

namespace plumb {
namespace {

// Every value of a list flag, repeated or comma-separated (`--tls.san a,b --tls.san c`).
std::vector<std::string> ListFlag(const CommandLine& flags, const std::string& name) {
  std::vector<std::string> out;
  for (const std::string& v : flags.GetAll(name)) {
    for (absl::string_view part : absl::StrSplit(v, ',', absl::SkipEmpty())) {
      out.emplace_back(part);
    }
  }
  return out;
}

std::string HostOf(const std::string& listen) {
  if (absl::StartsWith(listen, "[")) return listen.substr(1, listen.find(']') - 1);
  size_t colon = listen.rfind(':');
  return colon == std::string::npos ? listen : listen.substr(0, colon);
}

}  // namespace

const std::set<std::string>& SecurityListKeys() {
  static const auto* keys = new std::set<std::string>{"tls.san", "operator_tokens"};
  return *keys;
}

const std::set<std::string>& SecurityBoolFlags() {
  static const auto* keys = new std::set<std::string>{"insecure_bind_any", "insecure-bind-any"};
  return *keys;
}

bool IsLoopbackListen(const std::string& listen) {
  std::string host = HostOf(listen);
  if (host == "localhost") return true;
  in_addr v4;
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  return host == "::1";
}

absl::Status ApplySecurityConfig(const ConfigValues& values, const CommandLine& flags,
                                 ServerConfig* c) {
  SecuritySettings& s = c->security;
  PLUMB_ASSIGN_OR_RETURN(s.insecure_bind_any, values.GetBool("insecure_bind_any", false));
  if (flags.Has("insecure-bind-any")) s.insecure_bind_any = flags.GetBool("insecure-bind-any");
  s.tls_san = values.GetList("tls.san", s.tls_san);
  if (flags.Has("tls.san")) s.tls_san = ListFlag(flags, "tls.san");
  s.operator_tokens = values.GetList("operator_tokens");
  if (flags.Has("operator_tokens")) s.operator_tokens = ListFlag(flags, "operator_tokens");
  PLUMB_ASSIGN_OR_RETURN(s.agent_cert_lifetime,
                         values.GetDuration("tls.agent_cert_lifetime", s.agent_cert_lifetime));
  if (s.agent_cert_lifetime < absl::Seconds(10)) {
    return absl::InvalidArgumentError("tls.agent_cert_lifetime must be at least 10s");
  }
  s.ca_dir = c->state_dir + "/ca";
  if (c->tls.cert.empty() && c->tls.key.empty() &&
      FileExists(CertificateAuthority::ServerTlsFiles(s.ca_dir).cert)) {
    TlsFiles defaults = CertificateAuthority::ServerTlsFiles(s.ca_dir);
    if (c->tls.ca.empty()) c->tls.ca = defaults.ca;
    c->tls.cert = defaults.cert;
    c->tls.key = defaults.key;
  }
  if (c->insecure && !s.insecure_bind_any && !IsLoopbackListen(c->listen)) {
    std::string port = c->listen.substr(c->listen.rfind(':') + 1);
    LogWarning("--insecure: binding loopback only (add --insecure-bind-any to listen on "
               "other addresses)", {{"asked", c->listen}, {"listen", "127.0.0.1:" + port}});
    c->listen = "127.0.0.1:" + port;
  }
  return absl::OkStatus();
}

}  // namespace plumb
