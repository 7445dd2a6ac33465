#include "server/http/webhook_push.h"

#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace plumb {

WebhookPush ParseWebhookPush(std::string_view body) {
  WebhookPush push;
  google::protobuf::Struct object;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = true;
  if (!google::protobuf::util::JsonStringToMessage(std::string(body), &object, options).ok()) {
    return push;
  }
  auto it = object.fields().find("ref");
  if (it == object.fields().end() || !it->second.has_string_value()) return push;
  const std::string& ref = it->second.string_value();
  if (ref.empty() || ref.size() > kMaxWebhookRefBytes) return push;
  push.ref = ref;
  const std::string heads = "refs/heads/";
  if (ref.compare(0, heads.size(), heads) == 0 && ref.size() > heads.size()) {
    push.kind = WebhookPush::Kind::kBranch;
    push.branch = ref.substr(heads.size());
  } else {
    push.kind = WebhookPush::Kind::kOtherRef;
  }
  return push;
}

}  // namespace plumb
