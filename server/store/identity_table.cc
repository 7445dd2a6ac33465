#include "server/store/identity_table.h"

#include "absl/strings/str_cat.h"
#include "plumb/v1/agent.pb.h"

namespace plumb {

absl::Status NameTakenError(const std::string& node) {
  return absl::AlreadyExistsError(
      absl::StrCat("node \"", node,
                   "\" is already enrolled with another key; revoke it first "
                   "(plumbctl node revoke ",
                   node, ") or enroll under another name"));
}

std::string EncodeIdentityLabels(const NodeIdentity& node) {
  v1::LabelSet set;
  set.mutable_labels()->insert(node.labels.begin(), node.labels.end());
  for (const std::string& key : node.allowed_label_keys) set.add_allowed_keys(key);
  return set.SerializeAsString();
}

void DecodeIdentityLabels(const std::string& blob, NodeIdentity* node) {
  v1::LabelSet set;
  set.ParseFromString(blob);
  node->labels = {set.labels().begin(), set.labels().end()};
  node->allowed_label_keys = {set.allowed_keys().begin(), set.allowed_keys().end()};
}

}  // namespace plumb
