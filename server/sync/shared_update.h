#pragma once

// A catalog update serialized once for every agent that receives it. Agents of one group that
// acknowledged the same catalog get the same delta; what differs between their updates is only
// the nonce. So the message on the wire is a few bytes of the agent's own (ServerMessage.update's
// tag and length, then CatalogUpdate.nonce) followed by this shared body (every other field of
// the update), which gRPC sends from one reference-counted buffer without a copy per agent.
// Protobuf parses fields in any order, so the agent reads exactly the update it would have been
// sent field by field.

#include <cstddef>
#include <string>

#include "grpcpp/support/slice.h"
#include "plumb/v1/agent.pb.h"

namespace plumb {

// Immutable once built: thread-safe.
class SharedUpdate {
 public:
  // Serializes `update` (its nonce is cleared: each agent's is added by Prefix).
  explicit SharedUpdate(v1::CatalogUpdate update);

  // The update without a nonce.
  const v1::CatalogUpdate& update() const { return update_; }
  // Its serialized form (the body every agent's message ends with).
  const grpc::Slice& body() const { return body_; }
  size_t body_bytes() const { return body_.size(); }
  // The bytes that, followed by body(), are the ServerMessage carrying update() with `nonce`.
  std::string Prefix(const std::string& nonce) const;
  // That ServerMessage, typed (writers that take typed messages; tests).
  v1::ServerMessage Message(const std::string& nonce) const;

 private:
  v1::CatalogUpdate update_;
  grpc::Slice body_;
};

}  // namespace plumb
