#include "server/ca_command.h"

#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "server/certificate_authority.h"
#include "server/server_config.h"

namespace plumb {
namespace {

constexpr absl::Duration kOperatorLifetime = absl::Hours(24 * 365);

int Init(const ServerConfig& config, std::ostream& out, std::ostream& err) {
  const std::string& dir = config.security.ca_dir;
  auto ca = CertificateAuthority::Init(dir, config.security.tls_san, absl::Now());
  if (!ca.ok()) {
    err << "plumb-server: ca init: " << ca.status().message() << "\n";
    return 1;
  }
  TlsFiles files = CertificateAuthority::ServerTlsFiles(dir);
  out << "CA certificate:     " << files.ca << " (key " << CertificateAuthority::CaKeyPath(dir)
      << ", mode 0600)\n"
      << "server certificate: " << files.cert << " for "
      << absl::StrJoin(config.security.tls_san, ", ") << "\n"
      << "CA fingerprint:     sha256 " << FormatFingerprint((*ca)->fingerprint()) << "\n"
      << "Enroll agents with: plumbctl token create, then\n"
      << "  plumb-agent enroll --server ADDR --token TOKEN --ca-fingerprint "
      << (*ca)->fingerprint() << "\n";
  if (!config.tls.cert.empty() && config.tls.cert != files.cert) {
    out << "note: tls.cert is configured as " << config.tls.cert
        << "; the server keeps using it (remove tls: to use the built-in CA's files)\n";
  }
  return 0;
}

int IssueOperator(const ServerConfig& config, const std::string& name, std::ostream& out,
                  std::ostream& err) {
  auto ca = CertificateAuthority::Load(config.security.ca_dir);
  if (!ca.ok()) {
    err << "plumb-server: ca issue-operator: " << ca.status().message() << "\n";
    return 1;
  }
  auto paths = (*ca)->IssueOperator(name, config.state_dir + "/operators", kOperatorLifetime,
                                    absl::Now());
  if (!paths.ok()) {
    err << "plumb-server: ca issue-operator: " << paths.status().message() << "\n";
    return 1;
  }
  out << "operator certificate: " << paths->first << "\n"
      << "operator key:         " << paths->second << " (mode 0600)\n"
      << "Use them with plumbctl, e.g. in ~/.config/plumb/plumbctl.yaml:\n"
      << "  server: HOST:7443\n"
      << "  ca: " << CertificateAuthority::CaCertPath(config.security.ca_dir) << "\n"
      << "  cert: " << paths->first << "\n"
      << "  key: " << paths->second << "\n";
  return 0;
}

}  // namespace

int RunCaCommand(const CommandLine& flags, std::ostream& out, std::ostream& err) {
  const std::vector<std::string>& args = flags.positional();
  std::string sub = args.size() > 1 ? args[1] : "";
  bool usage_ok = (sub == "init" && args.size() == 2) || (sub == "fingerprint" && args.size() == 2) ||
                  (sub == "issue-operator" && args.size() == 3);
  if (!usage_ok) {
    err << "plumb-server: usage: plumb-server ca init | ca issue-operator NAME | ca fingerprint "
           "[--config FILE] [--state_dir DIR] [--tls.san NAME,IP,...]\n";
    return 2;
  }
  auto config = LoadServerConfig(flags, /*require_repo=*/false);
  if (!config.ok()) {
    err << "plumb-server: " << config.status().message() << "\n";
    return 2;
  }
  if (sub == "init") return Init(*config, out, err);
  if (sub == "issue-operator") return IssueOperator(*config, args[2], out, err);
  auto ca = CertificateAuthority::Load(config->security.ca_dir);
  if (!ca.ok()) {
    err << "plumb-server: ca fingerprint: " << ca.status().message() << "\n";
    return 1;
  }
  out << (*ca)->fingerprint() << "\n";
  return 0;
}

}  // namespace plumb
