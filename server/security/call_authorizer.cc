#include "server/security/call_authorizer.h"

#include "absl/strings/match.h"
#include "absl/strings/strip.h"
#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/logging.h"

namespace plumb {
namespace {

constexpr absl::string_view kEnroll = "/plumb.v1.AgentService/Enroll";
constexpr absl::string_view kAgentService = "/plumb.v1.AgentService/";
constexpr absl::string_view kFleetService = "/plumb.v1.FleetService/";
constexpr absl::string_view kReflection = "/grpc.reflection.";
constexpr absl::string_view kHealth = "/grpc.health.v1.Health/";
constexpr size_t kMinTokenLength = 16;

grpc::Status Unauthenticated(const std::string& message) {
  return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, message);
}

grpc::Status Denied(const std::string& message) {
  return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, message);
}

absl::string_view View(const grpc::string_ref& ref) {
  return absl::string_view(ref.data(), ref.size());
}

}  // namespace

std::optional<CertInfo> PeerCertificate(const grpc::AuthContext& context) {
  std::vector<grpc::string_ref> pems = context.FindPropertyValues(GRPC_X509_PEM_CERT_PROPERTY_NAME);
  if (pems.empty()) return std::nullopt;
  auto info = ParseCertificate(std::string(pems[0].data(), pems[0].size()));
  if (!info.ok()) return std::nullopt;
  return *info;
}

absl::StatusOr<std::vector<std::string>> HashOperatorTokens(
    const std::vector<std::string>& tokens) {
  std::vector<std::string> hashes;
  for (const std::string& token : tokens) {
    if (absl::StartsWith(token, "sha256:") && IsSha256Hex(token.substr(7))) {
      hashes.push_back(token.substr(7));
      continue;
    }
    if (token.size() < kMinTokenLength) {
      return absl::InvalidArgumentError(absl::StrCat(
          "operator_tokens: every token must be at least ", kMinTokenLength,
          " characters (or sha256:<hex of the token>)"));
    }
    hashes.push_back(Sha256Hex(token));
  }
  return hashes;
}

bool CallAuthorizer::TokenAccepted(absl::string_view token) const {
  if (token.empty()) return false;
  std::string hash = Sha256Hex(token);
  bool accepted = false;
  // Every stored hash is compared, matching or not: the time taken says nothing.
  for (const std::string& stored : token_hashes_) accepted |= ConstantTimeEquals(hash, stored);
  return accepted;
}

grpc::Status CallAuthorizer::Authorize(absl::string_view path, const CertInfo* cert,
                                       absl::string_view bearer) const {
  if (path == kEnroll || absl::StartsWith(path, kHealth)) return grpc::Status::OK;
  bool revoked = cert != nullptr && revocations_ != nullptr && revocations_->IsRevoked(*cert);
  if (absl::StartsWith(path, kAgentService)) {
    if (cert == nullptr) {
      return Unauthenticated(
          "AgentService needs this node's client certificate: enroll it first "
          "(plumb-agent enroll --server ADDR --token TOKEN)");
    }
    if (cert->role != kRoleAgent) {
      return Denied(absl::StrCat("a certificate with role \"", cert->role,
                                 "\" may not call AgentService; only agent certificates may"));
    }
    if (revoked) {
      // IsRevoked also refuses certificates of an earlier enrollment of the node.
      return Denied(absl::StrCat("the certificate of node \"", cert->common_name,
                                 "\" has been revoked (or replaced by a later enrollment)"));
    }
    return grpc::Status::OK;
  }
  if (absl::StartsWith(path, kFleetService) || absl::StartsWith(path, kReflection)) {
    if (!bearer.empty()) {
      if (TokenAccepted(bearer)) return grpc::Status::OK;
      return Unauthenticated("the bearer token is not one of the server's operator_tokens");
    }
    if (cert != nullptr && cert->role == kRoleOperator) {
      if (!revoked) return grpc::Status::OK;
      return Denied(absl::StrCat("the certificate of operator \"", cert->common_name,
                                 "\" has been revoked"));
    }
    if (cert != nullptr) {
      return Denied(absl::StrCat("a certificate with role \"", cert->role,
                                 "\" may not call FleetService; it needs an operator credential"));
    }
    return Unauthenticated(
        "FleetService needs an operator credential: a client certificate with the operator role "
        "(plumb-server ca issue-operator NAME) or a bearer token (--token)");
  }
  return Denied(absl::StrCat("no access to ", path));
}

grpc::Status CallAuthorizer::Process(const InputMetadata& auth_metadata,
                                     grpc::AuthContext* context,
                                     OutputMetadata* consumed_auth_metadata,
                                     OutputMetadata*) {
  absl::string_view path;
  absl::string_view bearer;
  for (const auto& [key, value] : auth_metadata) {
    if (View(key) == ":path") path = View(value);
    if (View(key) == "authorization") {
      absl::string_view v = View(value);
      if (!absl::ConsumePrefix(&v, "Bearer ")) {
        return Unauthenticated("authorization metadata must be \"Bearer <token>\"");
      }
      bearer = v;
      consumed_auth_metadata->insert({std::string(key.data(), key.size()),
                                      std::string(value.data(), value.size())});
    }
  }
  std::optional<CertInfo> cert = PeerCertificate(*context);
  grpc::Status status = Authorize(path, cert ? &*cert : nullptr, bearer);
  if (!status.ok()) {
    LogInfo("call refused", {{"method", path}, {"cn", cert ? cert->common_name : "-"},
                             {"code", static_cast<int>(status.error_code())},
                             {"reason", status.error_message()}});
  }
  return status;
}

}  // namespace plumb
