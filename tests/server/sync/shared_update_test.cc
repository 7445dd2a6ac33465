// SharedUpdate: an agent's prefix followed by the shared body is exactly the ServerMessage the
// agent would have been sent field by field, with its own nonce.

#include "server/sync/shared_update.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace plumb {
namespace {

v1::CatalogUpdate Update(int resources) {
  v1::CatalogUpdate u;
  u.set_nonce("dropped");
  u.set_revision(std::string(40, 'a'));
  u.set_catalog_digest(std::string(64, 'b'));
  u.set_prune(true);
  for (int i = 0; i < resources; ++i) {
    v1::Resource* r = u.add_upserted();
    r->set_id(absl::StrCat("file:/etc/f", i));
    r->set_version(std::string(64, 'c'));
    (*r->mutable_attributes())["mode"].set_str("0644");
    u.add_order(r->id());
  }
  u.add_removed("file:/etc/old");
  return u;
}

// What an agent reads off the wire for `update` with `nonce`.
v1::ServerMessage Wire(const SharedUpdate& update, const std::string& nonce) {
  std::string bytes = update.Prefix(nonce);
  bytes.append(reinterpret_cast<const char*>(update.body().begin()), update.body().size());
  v1::ServerMessage msg;
  EXPECT_TRUE(msg.ParseFromString(bytes));
  return msg;
}

TEST(SharedUpdateTest, PrefixAndSharedBodyAreTheAgentsOwnMessage) {
  // Bodies of 1 and 2-3 byte lengths (over 127 bytes and 16 KiB), nonces of several sizes.
  for (int resources : {0, 1, 300}) {
    SharedUpdate shared(Update(resources));
    EXPECT_TRUE(shared.update().nonce().empty());
    for (const std::string& nonce : {std::string("1"), std::string("18446744073709551615"),
                                     std::string(200, 'n'), std::string()}) {
      v1::ServerMessage want;
      *want.mutable_update() = Update(resources);
      want.mutable_update()->set_nonce(nonce);
      v1::ServerMessage got = Wire(shared, nonce);
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(got, want))
          << resources << " resources, nonce " << nonce;
      EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(shared.Message(nonce), want));
    }
  }
  EXPECT_GT(SharedUpdate(Update(300)).body_bytes(), 16384u);
}

TEST(SharedUpdateTest, CopiesOfTheBodyShareOneBuffer) {
  SharedUpdate shared(Update(3));
  grpc::Slice a = shared.body(), b = shared.body();
  EXPECT_EQ(a.begin(), b.begin());  // a reference, not a copy per agent
  EXPECT_EQ(a.begin(), shared.body().begin());
}

}  // namespace
}  // namespace plumb
