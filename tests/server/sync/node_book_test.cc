// NodeBook's rows with replicas: a row written for a node whose stream this server holds says
// connected, whatever the row read said (with PostgreSQL replicas a node's row reads as its
// presence rows say, which lag this server's connect by up to a flush); other rows, and every row
// of a single server, say what the change made of the row as read.

#include "server/sync/node_book.h"

#include <memory>
#include <string>

#include "gtest/gtest.h"
#include "server/store/forwarding_store.h"
#include "server/store/sqlite/sqlite_store.h"
#include "tests/testing/test_util.h"

namespace plumb {
namespace {

using testing::TempDir;

// Reads every node as not connected: what a replica's store says of a node in the moment before
// the replica's presence row for it is written, or after another replica's late disconnect.
class NotConnectedStore : public ForwardingStore {
 public:
  using ForwardingStore::ForwardingStore;
  absl::StatusOr<v1::Node> GetNode(const std::string& name) override {
    absl::StatusOr<v1::Node> node = ForwardingStore::GetNode(name);
    if (node.ok()) node->set_connected(false);
    return node;
  }
};

class NodeBookTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = SqliteStore::Open(dir_.Sub("plumb.db"));
    ASSERT_TRUE(opened.ok()) << opened.status();
    sqlite_ = std::move(*opened);
    v1::Node row;
    row.set_name("held");
    row.set_status(v1::NODE_CONVERGED);
    row.set_connected(true);
    v1::Node other = row;
    other.set_name("elsewhere");
    ASSERT_TRUE(sqlite_->PutNodes({row, other}).ok());
  }

  // A change that leaves `connected` alone (a report, an ack).
  static void Touch(NodeBook& book, const std::string& name) {
    book.Update(name, [](v1::Node* n) { n->set_last_error("touched"); });
  }

  bool StoredConnected(const std::string& name) {
    absl::StatusOr<v1::Node> n = sqlite_->GetNode(name);
    EXPECT_TRUE(n.ok()) << n.status();
    EXPECT_EQ(n.ok() ? n->last_error() : "", "touched");
    return n.ok() && n->connected();
  }

  TempDir dir_;
  std::unique_ptr<SqliteStore> sqlite_;
};

TEST_F(NodeBookTest, WithReplicasARowOfANodeThisServerHoldsSaysConnected) {
  NotConnectedStore store(sqlite_.get());
  NodeBook book(&store);
  book.set_holds([](const std::string& name) { return name == "held"; });
  Touch(book, "held");
  Touch(book, "elsewhere");
  book.Flush();
  EXPECT_TRUE(StoredConnected("held"));
  EXPECT_FALSE(StoredConnected("elsewhere"));  // as read: another replica's rows decide
}

TEST_F(NodeBookTest, WithoutReplicasARowSaysWhatTheChangeMadeOfIt) {
  NotConnectedStore store(sqlite_.get());
  NodeBook book(&store);
  Touch(book, "held");
  book.Flush();
  EXPECT_FALSE(StoredConnected("held"));
}

}  // namespace
}  // namespace plumb
