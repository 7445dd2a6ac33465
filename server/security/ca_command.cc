#include "server/security/ca_command.h"

#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "common/pki/pki.h"
#include "common/status_macros.h"
#include "common/secure_files.h"
#include "server/security/certificate_authority.h"
#include "server/store/open_store.h"
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
  // Recorded in the server's database so that `plumbctl operator revoke NAME` can revoke it.
  absl::Status recorded = [&]() -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(std::string pem, ReadSmallFile(paths->first));
    PLUMB_ASSIGN_OR_RETURN(CertInfo cert, ParseCertificate(pem));
    PLUMB_ASSIGN_OR_RETURN(auto identities,
                           OpenIdentityStore({config.store_url, config.store_password_file,
                                              config.state_dir + "/plumb.db"}));
    return identities->RecordOperatorCert(cert, absl::Now());
  }();
  if (!recorded.ok()) {
    std::remove(paths->first.c_str());
    std::remove(paths->second.c_str());
    err << "plumb-server: ca issue-operator: recording the certificate in "
        << (config.store_url.empty() ? config.state_dir + "/plumb.db" : "the database")
        << ": " << recorded.message() << "\n";
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

// Run as root on a state directory that belongs to the server's own user (the packages' `plumb`),
// the command becomes that user, so that every file it creates (CA, database) stays the
// server's. Returns false with `err` written if switching failed.
bool BecomeStateDirOwner(const std::string& state_dir, std::ostream& err) {
  struct stat st;
  if (geteuid() != 0 || stat(state_dir.c_str(), &st) != 0 || st.st_uid == 0) return true;
  struct passwd* pw = getpwuid(st.st_uid);
  bool ok = (pw == nullptr || initgroups(pw->pw_name, st.st_gid) == 0) && setgid(st.st_gid) == 0 &&
            setuid(st.st_uid) == 0;
  if (!ok) {
    err << "plumb-server: ca: cannot switch to the owner (uid " << st.st_uid << ") of "
        << state_dir << "\n";
  }
  return ok;
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
  if (!BecomeStateDirOwner(config->state_dir, err)) return 1;
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
