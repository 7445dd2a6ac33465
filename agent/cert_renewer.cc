#include "agent/cert_renewer.h"

#include "absl/strings/str_cat.h"
#include "agent/agent_tls.h"
#include "common/grpc_status.h"
#include "common/logging.h"
#include "common/pki/pki.h"
#include "common/secure_files.h"
#include "common/status_macros.h"
#include "plumb/v1/agent.grpc.pb.h"

namespace plumb {

absl::StatusOr<absl::Time> CertRenewer::RenewalTime(const std::string& cert_pem) {
  PLUMB_ASSIGN_OR_RETURN(CertInfo info, ParseCertificate(cert_pem));
  return info.not_before + (info.not_after - info.not_before) * 2 / 3;
}

absl::StatusOr<absl::Time> CertRenewer::RenewNow() {
  PLUMB_ASSIGN_OR_RETURN(std::string key, ReadSmallFile(config_.tls.key));
  PLUMB_ASSIGN_OR_RETURN(std::string csr, MakeCsr(key, config_.node));
  PLUMB_ASSIGN_OR_RETURN(auto creds, MakeChannelCredentials(false, config_.tls));
  v1::RenewRequest req;
  req.set_csr_pem(csr);
  v1::EnrollResponse resp;
  // Replicas share enrollments: the first server of the list that answers renews (one that does
  // not answer, e.g. a dead replica, is skipped; an answered refusal is the answer).
  grpc::Status renewed(grpc::StatusCode::UNAVAILABLE, "no server given");
  for (const std::string& server : ServerList(config_.server)) {
    auto channel = grpc::CreateCustomChannel(server, creds, DefaultChannelArguments());
    auto stub = v1::AgentService::NewStub(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    renewed = stub->Renew(&ctx, req, &resp);
    if (renewed.error_code() != grpc::StatusCode::UNAVAILABLE &&
        renewed.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED) {
      break;
    }
  }
  PLUMB_RETURN_IF_ERROR(FromGrpcStatus(renewed));
  PLUMB_ASSIGN_OR_RETURN(std::string ca, ReadSmallFile(config_.tls.ca));
  PLUMB_RETURN_IF_ERROR(VerifyIssuedBy(resp.cert_pem(), ca, clock_->Now()));
  PLUMB_ASSIGN_OR_RETURN(CertInfo issued, ParseCertificate(resp.cert_pem()));
  if (issued.common_name != config_.node) {
    return absl::DataLossError("the renewed certificate names another node");
  }
  PLUMB_RETURN_IF_ERROR(WriteFileAtomically(config_.tls.cert, resp.cert_pem(), 0644));
  LogInfo("certificate renewed", {{"serial", issued.serial_hex},
                                  {"not_after", absl::FormatTime(issued.not_after)}});
  return issued.not_after;
}

namespace {

// Only certificates from `plumb-agent enroll` are renewed here; another PKI renews its own.
bool Renewable(const AgentConfig& config) {
  return !config.insecure && config.tls.cert == EnrolledTlsFiles(config.state_dir).cert;
}

}  // namespace

absl::Status CertRenewer::RenewIfDue() {
  if (!Renewable(config_)) return absl::OkStatus();
  PLUMB_ASSIGN_OR_RETURN(std::string cert, ReadSmallFile(config_.tls.cert));
  PLUMB_ASSIGN_OR_RETURN(absl::Time due, RenewalTime(cert));
  if (clock_->Now() < due) return absl::OkStatus();
  return RenewNow().status();
}

void CertRenewer::Start() {
  if (!Renewable(config_)) return;
  thread_ = std::thread([this] { Loop(); });
}

void CertRenewer::Stop() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

bool CertRenewer::Wait(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  auto stopping = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
  clock_->AwaitWithTimeout(&mu_, absl::Condition(&stopping), d);
  return !stopping_;
}

void CertRenewer::Loop() {
  absl::Duration retry = absl::Seconds(2);
  while (true) {
    auto cert = ReadSmallFile(config_.tls.cert);
    auto due = cert.ok() ? RenewalTime(*cert) : absl::StatusOr<absl::Time>(cert.status());
    if (!due.ok()) {
      LogWarning("cannot read this agent's certificate", {{"error", due.status().message()}});
      if (!Wait(absl::Minutes(1))) return;
      continue;
    }
    absl::Duration wait = *due - clock_->Now();
    if (wait > absl::ZeroDuration()) {
      // Re-reads the file at least hourly: a re-enrollment may have replaced it.
      if (!Wait(std::min(wait, absl::Hours(1)))) return;
      continue;
    }
    auto renewed = RenewNow();
    if (renewed.ok()) {
      retry = absl::Seconds(2);
      continue;
    }
    LogWarning("certificate renewal failed; retrying",
               {{"error", renewed.status().message()}, {"in", absl::FormatDuration(retry)}});
    if (!Wait(retry)) return;
    retry = std::min(retry * 2, absl::Minutes(5));
  }
}

}  // namespace plumb
