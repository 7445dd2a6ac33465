#include "server/sync/shared_update.h"

#include <cstdint>

#include "grpc/slice.h"

namespace plumb {
namespace {

// Protobuf's base-128 varint.
void AppendVarint(std::string* out, uint64_t value) {
  while (value >= 0x80) {
    out->push_back(static_cast<char>((value & 0x7f) | 0x80));
    value >>= 7;
  }
  out->push_back(static_cast<char>(value));
}

// The key of a length-delimited field (wire type 2).
constexpr uint8_t LengthDelimitedKey(int field) { return static_cast<uint8_t>(field << 3 | 2); }

}  // namespace

SharedUpdate::SharedUpdate(v1::CatalogUpdate update) : update_(std::move(update)) {
  update_.clear_nonce();
  size_t size = update_.ByteSizeLong();
  grpc_slice slice = grpc_slice_malloc(size);
  update_.SerializeWithCachedSizesToArray(GRPC_SLICE_START_PTR(slice));
  body_ = grpc::Slice(slice, grpc::Slice::STEAL_REF);
}

std::string SharedUpdate::Prefix(const std::string& nonce) const {
  static_assert(v1::ServerMessage::kUpdateFieldNumber == 1 &&
                v1::CatalogUpdate::kNonceFieldNumber == 1);
  std::string nonce_field;
  if (!nonce.empty()) {
    nonce_field.push_back(static_cast<char>(LengthDelimitedKey(1)));
    AppendVarint(&nonce_field, nonce.size());
    nonce_field.append(nonce);
  }
  std::string prefix;
  prefix.push_back(static_cast<char>(LengthDelimitedKey(1)));
  AppendVarint(&prefix, nonce_field.size() + body_.size());
  prefix.append(nonce_field);
  return prefix;
}

v1::ServerMessage SharedUpdate::Message(const std::string& nonce) const {
  v1::ServerMessage msg;
  *msg.mutable_update() = update_;
  msg.mutable_update()->set_nonce(nonce);
  return msg;
}

}  // namespace plumb
