// PlumbServer's web console: wired to the store, the event bus, the operator check of the gRPC
// API (CallAuthorizer, as for FleetService) and FleetService.Run for "run now".

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/compiler/compiler.h"
#include "common/status_macros.h"
#include "server/console/console_text.h"
#include "server/plumb_server.h"

namespace plumb {
namespace {

// Any FleetService method: the console asks exactly what a FleetService call needs.
constexpr char kConsoleCallPath[] = "/plumb.v1.FleetService/ListNodes";

}  // namespace

absl::Status PlumbServer::StartConsole(const ServerConfig& config) {
  if (config.console_listen.empty()) return absl::OkStatus();
  if (security_ == nullptr) {
    return absl::InvalidArgumentError("console_listen needs TLS: it cannot be used with --insecure");
  }
  ConsoleRoutes routes;
  routes.data.store = store_.get();
  Store* store = store_.get();
  RevisionLines* lines = lines_.get();
  routes.data.sensitive_ids = [store, lines](const std::string& name) {
    std::set<std::string> ids;
    absl::StatusOr<v1::Node> n = store->GetNode(name);
    if (!n.ok()) return ids;
    // The node's own line's catalog (the default line's without environments).
    int index = lines->environments().configured()
                    ? lines->environments().Match({n->labels().begin(), n->labels().end()})
                    : 0;
    if (index < 0) return ids;
    CatalogBuilder* builder = lines->line(index).builder.get();
    NodeInputs inputs{n->name(), {n->labels().begin(), n->labels().end()},
                      {n->facts().begin(), n->facts().end()}};
    absl::StatusOr<std::shared_ptr<const v1::Catalog>> catalog = builder->Build(inputs);
    if (!catalog.ok()) return ids;
    for (const v1::Resource& r : (*catalog)->resources()) {
      if (r.sensitive()) ids.insert(r.id());
    }
    return ids;
  };
  std::shared_ptr<CallAuthorizer> authorizer = security_->authorizer();
  routes.is_operator = [authorizer](const CertInfo* cert, absl::string_view bearer) {
    return authorizer->Authorize(kConsoleCallPath, cert, bearer).ok();
  };
  PLUMB_ASSIGN_OR_RETURN(std::vector<std::string> token_hashes,
                         HashOperatorTokens(config.security.operator_tokens));
  routes.credential_valid = [authorizer, token_hashes](const std::string& credential) {
    absl::string_view c = credential;
    if (absl::ConsumePrefix(&c, "token:")) {
      bool found = false;
      for (const std::string& h : token_hashes) found |= ConstantTimeEquals(h, c);
      return found;
    }
    std::vector<std::string> parts = absl::StrSplit(credential, ':');
    if (parts.size() != 3 || parts[0] != "cert") return false;
    CertInfo cert;
    cert.fingerprint = parts[1];
    cert.common_name = UrlDecode(parts[2]);
    cert.role = kRoleOperator;
    return authorizer->Authorize(kConsoleCallPath, &cert, "").ok();
  };
  FleetServiceImpl* fleet = fleet_service_.get();
  routes.run_now = [fleet](const std::string& node) -> absl::Status {
    v1::RunNodesRequest request;
    request.add_nodes(node);
    v1::RunNodesResponse response;
    grpc::Status status = fleet->Run(nullptr, &request, &response);
    if (!status.ok()) return absl::InternalError(status.error_message());
    for (const v1::NodeRunResult& r : response.results()) {
      if (!r.error().empty()) {
        return absl::FailedPreconditionError(absl::StrCat(node, ": ", r.error()));
      }
    }
    return absl::OkStatus();
  };
  ConsoleOptions options;
  options.session_lifetime = config.console_session_lifetime;
  options.sessions_file = config.state_dir + "/console-sessions";
  PLUMB_ASSIGN_OR_RETURN(console_, ConsoleServer::Start(config.console_listen, config.tls,
                                                        std::move(routes), events_.get(), &clock_,
                                                        options));
  return absl::OkStatus();
}

}  // namespace plumb
