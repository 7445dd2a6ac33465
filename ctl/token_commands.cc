// plumbctl's security commands: `token create` (join tokens for plumb-agent enroll),
// `node revoke NAME`, and `operator list` / `operator revoke NAME`.

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "ctl/commands.h"

namespace plumb {

namespace {

// The CreateTokenRequest the flags describe, or the exit status of a usage error (printed).
int ParseTokenFlags(const CtlInvocation& inv, v1::CreateTokenRequest* req) {
  if (inv.flags->Has("ttl")) {
    auto ttl = ParseDurationText(inv.flags->Get("ttl"));
    if (!ttl.ok() || *ttl < absl::Seconds(1)) {
      *inv.err << "plumbctl: --ttl must be a duration like 30m or 1h, got \""
               << inv.flags->Get("ttl") << "\"\n";
      return 2;
    }
    req->set_ttl_seconds(absl::ToInt64Seconds(*ttl));
  }
  if (inv.flags->Has("uses")) {
    int uses = 0;
    if (!absl::SimpleAtoi(inv.flags->Get("uses"), &uses) || uses < 1) {
      *inv.err << "plumbctl: --uses must be a whole number >= 1, got \""
               << inv.flags->Get("uses") << "\"\n";
      return 2;
    }
    req->set_uses(uses);
  }
  for (const std::string& kv : inv.flags->GetAll("label")) {
    std::string k, v;
    if (!ParseKeyValue(kv, &k, &v).ok()) {
      *inv.err << "plumbctl: --label must be k=v, got \"" << kv << "\"\n";
      return 2;
    }
    (*req->mutable_labels())[k] = v;
  }
  for (const std::string& key : inv.flags->GetAll("allow-label")) {
    if (key.empty() || key.find('=') != std::string::npos) {
      *inv.err << "plumbctl: --allow-label takes a label key (or '*'), got \"" << key << "\"\n";
      return 2;
    }
    req->add_allow_labels(key);
  }
  return 0;
}

}  // namespace

int CmdTokenCreate(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  constexpr char kUsage[] =
      "token create [--ttl 1h] [--uses 1] [--label k=v]... [--allow-label KEY|'*']... "
      "[--node-glob 'web-*']";
  if (inv.args.size() != 1 || inv.args[0] != "create") return Usage(inv, kUsage);
  v1::CreateTokenRequest req;
  if (int bad = ParseTokenFlags(inv, &req); bad != 0) return bad;
  req.set_node_glob(inv.flags->Get("node-glob"));
  v1::CreateTokenResponse resp;
  auto ctx = NewRpcContext();
  grpc::Status st = stub->CreateToken(ctx.get(), req, &resp);
  if (!st.ok()) return RpcFailed(inv, "token create", st);
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(resp) << "\n";
    return 0;
  }
  // The token alone on stdout (scripts: TOKEN=$(plumbctl token create)); the rest for people.
  *inv.out << resp.token() << "\n";
  std::map<std::string, std::string> labels(req.labels().begin(), req.labels().end());
  *inv.err << "join token: expires " << FormatUnixMs(resp.expires_unix_ms()) << " UTC, "
           << resp.uses() << (resp.uses() == 1 ? " use" : " uses")
           << (labels.empty() ? "" : ", labels ")
           << absl::StrJoin(labels, ",", absl::PairFormatter("="))
           << (req.allow_labels().empty() ? ", agents' own labels ignored"
                                          : ", agents may add labels ")
           << absl::StrJoin(req.allow_labels(), ",")
           << (req.node_glob().empty() ? "" : ", node names " + req.node_glob())
           << "; shown once (the server keeps only its hash)\n";
  return 0;
}

namespace {

// Prints the answer of a revocation: the response as JSON, or one line for people.
int PrintRevoked(const CtlInvocation& inv, const google::protobuf::Message& resp,
                 const std::string& what, int certificates, const std::string& effect) {
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(resp) << "\n";
    return 0;
  }
  *inv.out << "revoked " << what << " (" << certificates << " certificate"
           << (certificates == 1 ? "" : "s") << "); " << effect << "\n";
  return 0;
}

}  // namespace

int CmdNodeRevoke(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  if (inv.args.size() != 2 || inv.args[0] != "revoke") return Usage(inv, "node revoke NAME");
  v1::RevokeNodeRequest req;
  req.set_name(inv.args[1]);
  v1::RevokeNodeResponse resp;
  auto ctx = NewRpcContext();
  grpc::Status st = stub->RevokeNode(ctx.get(), req, &resp);
  if (!st.ok()) return RpcFailed(inv, "node revoke", st);
  return PrintRevoked(inv, resp, "node " + req.name(), resp.certificates_revoked(),
                      "its stream is closed and it is refused until it enrolls again");
}

int CmdNodeForget(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  if (inv.args.size() != 2 || inv.args[0] != "forget") return Usage(inv, "node forget NAME");
  v1::ForgetNodeRequest req;
  req.set_name(inv.args[1]);
  v1::ForgetNodeResponse resp;
  auto ctx = NewRpcContext();
  grpc::Status st = stub->ForgetNode(ctx.get(), req, &resp);
  if (!st.ok()) return RpcFailed(inv, "node forget", st);
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(resp) << "\n";
    return 0;
  }
  *inv.out << "forgot node " << req.name() << " (" << resp.certificates_revoked()
           << " certificate" << (resp.certificates_revoked() == 1 ? "" : "s") << " revoked)\n";
  return 0;
}

int CmdOperator(v1::FleetService::StubInterface* stub, const CtlInvocation& inv) {
  constexpr char kUsage[] = "operator list | operator revoke NAME";
  bool list = inv.args.size() == 1 && inv.args[0] == "list";
  bool revoke = inv.args.size() == 2 && inv.args[0] == "revoke";
  if (!list && !revoke) return Usage(inv, kUsage);
  auto ctx = NewRpcContext();
  if (revoke) {
    v1::RevokeOperatorRequest req;
    req.set_name(inv.args[1]);
    v1::RevokeOperatorResponse resp;
    grpc::Status st = stub->RevokeOperator(ctx.get(), req, &resp);
    if (!st.ok()) return RpcFailed(inv, "operator revoke", st);
    return PrintRevoked(inv, resp, "operator " + req.name(), resp.certificates_revoked(),
                        "refused from now on, its open watches are closed");
  }
  v1::ListOperatorsResponse resp;
  grpc::Status st = stub->ListOperators(ctx.get(), v1::ListOperatorsRequest(), &resp);
  if (!st.ok()) return RpcFailed(inv, "operator list", st);
  if (inv.format == OutputFormat::kJson) {
    *inv.out << ToJson(resp) << "\n";
    return 0;
  }
  Table t({"NAME", "SERIAL", "ISSUED", "EXPIRES", "REVOKED"});
  for (const v1::OperatorCertificate& c : resp.certificates()) {
    t.AddRow({c.name(), c.serial(), FormatUnixMs(c.issued_unix_ms()),
              FormatUnixMs(c.expires_unix_ms()), FormatUnixMs(c.revoked_unix_ms())});
  }
  *inv.out << t.ToString();
  return 0;
}

}  // namespace plumb
