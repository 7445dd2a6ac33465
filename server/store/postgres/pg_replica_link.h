#pragma once

// ReplicaLink over PostgreSQL: messages are rows of replica_messages (read by id, announced by
// NOTIFY plumb_replica through a PgNotificationDispatcher, re-read every poll in case a
// notification was lost), presence is one replica_heartbeats row per replica plus one
// node_streams row per held stream. One connection and one thread write and read; the
// dispatcher has its own connection.

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/postgres/pg_notifications.h"
#include "server/store/replica_link.h"

namespace plumb {

class PgConn;

// The NOTIFY channel of new rows in replica_messages.
inline constexpr char kReplicaChannel[] = "plumb_replica";

// Timings of the link; the defaults are the server's (docs/scale-out.md).
struct PgReplicaLinkOptions {
  absl::Duration heartbeat = absl::Seconds(2);    // one statement per replica per heartbeat
  absl::Duration expiry = absl::Seconds(10);      // a silent replica's nodes go offline after this
  absl::Duration flush = absl::Milliseconds(50);  // most a message waits before it is written
  absl::Duration poll = absl::Seconds(2);         // re-read messages though no NOTIFY came
  absl::Duration keep = absl::Minutes(10);        // messages and dead replicas' rows pruned after
  size_t max_queued = 10000;                      // unsent messages kept while the database is down
};

// Thread-safe.
class PgReplicaLink : public ReplicaLink {
 public:
  // Connects twice (the link and its dispatcher); Unavailable if PostgreSQL cannot be reached.
  static absl::StatusOr<std::unique_ptr<PgReplicaLink>> Open(const std::string& url,
                                                             const std::string& password,
                                                             std::string replica_id,
                                                             PgReplicaLinkOptions options = {});
  ~PgReplicaLink() override;

  void Start(std::function<void(const ReplicaMessage&)> on_message) override;
  void Stop() override;
  void Send(std::string kind, std::string ref, std::string payload) override;
  void SetHolding(const std::string& node, bool holding) override;
  int OtherLiveReplicas() const override;
  const std::string& id() const override { return id_; }

  // A replica id unique to this process: host name, pid and a random suffix.
  static std::string NewReplicaId();

 private:
  PgReplicaLink(std::unique_ptr<PgConn> conn, std::unique_ptr<PgNotificationDispatcher> notices,
                std::string id, PgReplicaLinkOptions options);
  void Loop();
  // Each returns the database's error; the caller reconnects next turn.
  absl::Status FlushMessages();
  absl::Status ReadMessages();
  absl::Status WritePresence();
  absl::Status Prune();

  const std::string id_;
  const PgReplicaLinkOptions options_;
  std::unique_ptr<PgConn> conn_;  // the loop's thread only
  std::unique_ptr<PgNotificationDispatcher> notices_;
  std::function<void(const ReplicaMessage&)> on_message_;
  // The loop's thread only.
  int64_t last_read_ = -1;         // the last message id delivered (-1: not yet known)
  std::set<std::string> written_;  // node_streams rows of this replica as last written
  absl::Time next_heartbeat_ = absl::InfinitePast();
  absl::Time next_prune_ = absl::InfinitePast();

  mutable absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool read_wanted_ ABSL_GUARDED_BY(mu_) = true;
  bool presence_dirty_ ABSL_GUARDED_BY(mu_) = false;
  bool resync_ ABSL_GUARDED_BY(mu_) = true;  // rewrite every node_streams row of this replica
  std::deque<ReplicaMessage> outbox_ ABSL_GUARDED_BY(mu_);
  int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  std::set<std::string> holding_ ABSL_GUARDED_BY(mu_);
  int other_live_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace plumb
