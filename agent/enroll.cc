#include "agent/enroll.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "agent/agent_tls.h"
#include "common/pki/pki.h"
#include "common/secure_files.h"
#include "common/status_macros.h"
#include "plumb/v1/agent.grpc.pb.h"

namespace plumb {
namespace {

// The key of this host: reused if it exists (re-enrolling keeps the identity's key).
absl::StatusOr<std::string> LoadOrCreateKey(const std::string& path) {
  auto existing = ReadSmallFile(path);
  if (existing.ok()) return *existing;
  if (!absl::IsNotFound(existing.status())) return existing.status();
  PLUMB_ASSIGN_OR_RETURN(std::string key, GenerateKeyPem());
  PLUMB_RETURN_IF_ERROR(WriteFileAtomically(path, key, 0600));
  return key;
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ServerTrust(const AgentConfig& config,
                                                                      const CommandLine& flags) {
  if (flags.Has("ca-fingerprint")) return MakePinnedChannelCredentials(flags.Get("ca-fingerprint"));
  std::string ca = flags.Get("ca", config.tls.ca);
  if (ca.empty()) {
    return absl::InvalidArgumentError(
        "say how to trust the server: --ca-fingerprint SHA256 (printed by `plumb-server ca "
        "init`) or --ca FILE (the CA certificate)");
  }
  return MakeChannelCredentials(false, {ca, "", ""});
}

// One line for the person enrolling, from what the RPC said.
std::string Explain(const grpc::Status& status, const std::string& server) {
  const std::string& m = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    // The pin verifier's own words (common/pki/ca_pin_verifier.cc) say best what did not match.
    constexpr char kVerifier[] = "verification check failed with error: ";
    if (size_t at = m.find(kVerifier); at != std::string::npos) {
      absl::string_view why = absl::string_view(m).substr(at + sizeof(kVerifier) - 1);
      absl::ConsumePrefix(&why, "UNAUTHENTICATED: ");
      absl::ConsumeSuffix(&why, ")");
      return absl::StrCat("cannot verify the server at ", server, ": ", why);
    }
    // Only a failed verification says the chain is wrong; a handshake can also fail on the
    // protocol, a reset or a server that wants something else.
    if (absl::StrContains(m, "CERTIFICATE_VERIFY_FAILED") ||
        absl::StrContains(m, "certificate verify failed")) {
      return absl::StrCat("cannot verify the server at ", server,
                          ": its certificate does not chain to the CA given by --ca-fingerprint "
                          "or --ca (", m, ")");
    }
    if (absl::StrContains(m, "andshake") || absl::StrContains(m, "certificate")) {
      return absl::StrCat("the TLS handshake with ", server, " failed (", m, ")");
    }
    return absl::StrCat("server ", server, " unavailable (", m, ")");
  }
  return m;
}

}  // namespace

absl::Status CheckEnrollResponse(const v1::EnrollResponse& resp, const std::string& node,
                                 const std::string& pin, absl::Time now) {
  if (!pin.empty()) {
    auto ca = ParseCertificate(resp.ca_pem());
    if (!ca.ok() || !ConstantTimeEquals(ca->fingerprint, pin)) {
      return absl::PermissionDeniedError(absl::StrCat(
          "the server answered with a CA whose fingerprint is ",
          ca.ok() ? ca->fingerprint : "unreadable", ", not the pinned ", pin,
          " (--ca-fingerprint): refusing to trust it"));
    }
  }
  auto issued = ParseCertificate(resp.cert_pem());
  if (!issued.ok() || issued->common_name != node || issued->role != kRoleAgent ||
      !VerifyIssuedBy(resp.cert_pem(), resp.ca_pem(), now).ok()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "the server answered with a certificate that is not an agent certificate for ", node,
        " signed by its CA"));
  }
  return absl::OkStatus();
}

namespace {

// The server did not answer (nothing listening, TLS failed, timed out): another replica may.
bool NotAnswered(const grpc::Status& status) {
  return status.error_code() == grpc::StatusCode::UNAVAILABLE ||
         status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED;
}

// Sends `req` to each of the configured servers in turn until one answers; false after saying
// why on `err`. `server` is the one that enrolled this node.
bool EnrollWithAnyServer(const AgentConfig& config,
                         const std::shared_ptr<grpc::ChannelCredentials>& creds,
                         const v1::EnrollRequest& req, v1::EnrollResponse* resp,
                         std::string* server, std::ostream& err) {
  // Replicas share enrollments (docs/scale-out.md): the first that answers enrolls this node; a
  // refusal (bad token, ...) is the answer, not a reason to ask the next one.
  std::vector<std::string> failures;
  for (const std::string& candidate : ServerList(config.server)) {
    auto channel = grpc::CreateCustomChannel(candidate, creds, DefaultChannelArguments());
    auto stub = v1::AgentService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    grpc::Status status = stub->Enroll(&ctx, req, resp);
    if (status.ok()) {
      *server = candidate;
      return true;
    }
    if (!NotAnswered(status)) {
      err << "plumb-agent: enroll refused: " << Explain(status, candidate) << "\n";
      return false;
    }
    failures.push_back(Explain(status, candidate));
  }
  err << "plumb-agent: enroll failed: " << absl::StrJoin(failures, "; ") << "\n";
  return false;
}

}  // namespace

const std::set<std::string>& EnrollFlags() {
  static const auto* flags = new std::set<std::string>{"token", "ca-fingerprint", "ca"};
  return *flags;
}

int RunEnroll(const AgentConfig& config, const CommandLine& flags, std::ostream& out,
              std::ostream& err) {
  std::string token = flags.Get("token");
  if (token.empty()) {
    err << "plumb-agent: enroll needs --token (from `plumbctl token create`)\n";
    return 2;
  }
  auto creds = ServerTrust(config, flags);
  if (!creds.ok()) {
    err << "plumb-agent: enroll: " << creds.status().message() << "\n";
    return 2;
  }
  TlsFiles files = EnrolledTlsFiles(config.state_dir);
  absl::Status dir = MakeDirectories(AgentTlsDir(config.state_dir), 0700);
  auto key = dir.ok() ? LoadOrCreateKey(files.key) : absl::StatusOr<std::string>(dir);
  auto csr = key.ok() ? MakeCsr(*key, config.node) : absl::StatusOr<std::string>(key.status());
  if (!csr.ok()) {
    err << "plumb-agent: enroll: " << csr.status().message() << "\n";
    return 1;
  }
  v1::EnrollRequest req;
  req.set_node(config.node);
  req.set_token(token);
  req.set_csr_pem(*csr);
  v1::EnrollResponse resp;
  std::string server;
  if (!EnrollWithAnyServer(config, *creds, req, &resp, &server, err)) return 1;
  // ServerTrust accepted the pin already; normalised again here for the comparison.
  absl::StatusOr<std::string> pin = flags.Has("ca-fingerprint")
                                        ? NormalizeFingerprint(flags.Get("ca-fingerprint"))
                                        : absl::StatusOr<std::string>("");
  absl::Status answer =
      pin.ok() ? CheckEnrollResponse(resp, config.node, *pin, absl::Now()) : pin.status();
  if (!answer.ok()) {
    err << "plumb-agent: enroll: " << answer.message() << "\n";
    return 1;
  }
  auto issued = ParseCertificate(resp.cert_pem());
  for (const auto& [path, content] :
       {std::make_pair(files.ca, resp.ca_pem()), std::make_pair(files.cert, resp.cert_pem())}) {
    absl::Status written = WriteFileAtomically(path, content, 0644);
    if (!written.ok()) {
      err << "plumb-agent: enroll: " << written.message() << "\n";
      return 1;
    }
  }
  std::map<std::string, std::string> labels(resp.labels().begin(), resp.labels().end());
  out << "enrolled " << config.node << " with " << server << "; certificate valid until "
      << absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", issued->not_after, absl::UTCTimeZone())
      << (labels.empty() ? "" : "; bound labels ")
      << absl::StrJoin(labels, ",", absl::PairFormatter("="))
      << (resp.allowed_label_keys().empty() ? "" : "; its config may set labels ")
      << absl::StrJoin(resp.allowed_label_keys(), ",") << "\n"
      << "key, certificate and CA are in " << AgentTlsDir(config.state_dir)
      << "; start the agent with the same --server, --node and --state_dir\n";
  return 0;
}

}  // namespace plumb
