// FleetService: pins (plumbctl pin / unpin; docs/rollouts.md). A pinned node is served the
// pin's revision whatever a rollout says; the pin is stored (Store::PutPin) and survives a
// restart.

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/grpc_status.h"
#include "server/fleet/fleet_service.h"

namespace plumb {

void FillPins(Store* store, std::vector<v1::Node*> nodes) {
  absl::StatusOr<std::vector<v1::Pin>> pins = store->ListPins();
  if (!pins.ok() || pins->empty()) return;
  std::map<std::string, std::string> by_node;
  for (const v1::Pin& p : *pins) by_node[p.node()] = p.revision();
  for (v1::Node* n : nodes) {
    auto it = by_node.find(n->name());
    if (it != by_node.end()) n->set_pinned_revision(it->second);
  }
}

absl::StatusOr<std::vector<std::string>> FleetServiceImpl::PinTargets(
    const google::protobuf::RepeatedPtrField<std::string>& nodes,
    const google::protobuf::Map<std::string, std::string>& selector) {
  std::set<std::string> names(nodes.begin(), nodes.end());
  if (!selector.empty()) {
    absl::StatusOr<std::vector<v1::Node>> matching =
        store_->ListNodes({selector.begin(), selector.end()}, v1::NODE_STATUS_UNSPECIFIED);
    if (!matching.ok()) return matching.status();
    for (const v1::Node& n : *matching) names.insert(n.name());
  }
  if (names.empty()) {
    return absl::InvalidArgumentError("name nodes, or a selector that matches some");
  }
  return std::vector<std::string>(names.begin(), names.end());
}

absl::Status FleetServiceImpl::ReloadPins() {
  absl::StatusOr<std::vector<v1::Pin>> pins = store_->ListPins();
  if (!pins.ok()) return pins.status();
  std::map<std::string, std::string> by_node;
  for (const v1::Pin& p : *pins) by_node[p.node()] = p.revision();
  if (all_rollouts_.empty()) {
    rollout_->SetPins(std::move(by_node));
  } else {
    for (RolloutController* rollout : all_rollouts_) rollout->SetPins(by_node);
  }
  hub_->OnNewRevision();  // re-offer: pinned nodes get their revision
  return absl::OkStatus();
}

grpc::Status FleetServiceImpl::Pin(grpc::ServerContext*, const v1::PinRequest* req,
                                   v1::PinResponse* resp) {
  if (rollout_ == nullptr || live_ == nullptr) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "this server does not pin nodes");
  }
  if (req->to().empty()) return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "--to is required");
  absl::StatusOr<v1::Revision> rev = store_->GetRevision(req->to());
  if (!rev.ok()) return ToGrpcStatus(rev.status());
  if (rev->status() != v1::REVISION_OK) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("revision ", rev->sha(), " failed to compile"));
  }
  auto names = PinTargets(req->nodes(), req->selector());
  if (!names.ok()) return ToGrpcStatus(names.status());
  // The revision must be buildable (in each pinned node's environment) before any node is told
  // to take it: from that line's mirror, so a node cannot be pinned to another branch's commit
  // its own branch never had.
  for (const std::string& name : *names) {
    if (absl::Status live = LiveFor(name)->Ensure(rev->sha()); !live.ok()) {
      return ToGrpcStatus(live);
    }
  }
  for (const std::string& name : *names) {
    v1::Pin pin;
    pin.set_node(name);
    pin.set_revision(rev->sha());
    pin.set_unix_ms(absl::ToUnixMillis(absl::Now()));
    if (absl::Status put = store_->PutPin(pin); !put.ok()) return ToGrpcStatus(put);
    resp->add_nodes(name);
  }
  resp->set_revision(rev->sha());
  if (absl::Status reload = ReloadPins(); !reload.ok()) return ToGrpcStatus(reload);
  return grpc::Status::OK;
}

LiveRevisions* FleetServiceImpl::LiveFor(const std::string& node) {
  if (!rollout_lookup_) return live_;
  absl::StatusOr<v1::Node> row = store_->GetNode(node);
  if (!row.ok()) return live_;
  LiveRevisions* live = rollout_lookup_(row->environment()).second;
  return live != nullptr ? live : live_;
}

grpc::Status FleetServiceImpl::Unpin(grpc::ServerContext*, const v1::UnpinRequest* req,
                                     v1::PinResponse* resp) {
  if (rollout_ == nullptr) {
    return grpc::Status(grpc::StatusCode::UNIMPLEMENTED, "this server does not pin nodes");
  }
  auto names = PinTargets(req->nodes(), req->selector());
  if (!names.ok()) return ToGrpcStatus(names.status());
  for (const std::string& name : *names) {
    if (absl::Status del = store_->DeletePin(name); !del.ok()) return ToGrpcStatus(del);
    resp->add_nodes(name);
  }
  if (absl::Status reload = ReloadPins(); !reload.ok()) return ToGrpcStatus(reload);
  return grpc::Status::OK;
}

}  // namespace plumb
