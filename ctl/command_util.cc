// Helpers every plumbctl command uses.

#include "absl/strings/str_cat.h"
#include "ctl/commands.h"

namespace plumb {

std::unique_ptr<grpc::ClientContext> NewRpcContext() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(kRpcSeconds));
  return ctx;
}

int RpcFailed(const CtlInvocation& inv, const std::string& what, const grpc::Status& status) {
  std::string message = status.error_message();
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE ||
      status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    message = absl::StrCat("server unavailable (", message, ")");
  }
  *inv.err << "plumbctl: " << what << ": " << message << "\n";
  return 1;
}

int Usage(const CtlInvocation& inv, const std::string& text) {
  *inv.err << "plumbctl: usage: plumbctl " << text << "\n";
  return 2;
}

}  // namespace plumb
