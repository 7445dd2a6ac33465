#pragma once

// Which replica fetches, validates and records new revisions. With SQLite there is one server,
// always the leader (AlwaysLeader). With PostgreSQL (PgLeadership) the replicas sharing the
// database elect one through a session-level advisory lock; the others follow the serving
// revision the database records.

#include <functional>

namespace plumb {

// Thread-safe in every implementation.
class Leadership {
 public:
  virtual ~Leadership() = default;
  // Starts watching; `on_change` runs (on the watcher's thread) when this replica becomes or
  // stops being the leader, and when another replica announces a new serving revision. Call
  // once, before IsLeader matters.
  virtual void Start(std::function<void()> on_change) = 0;
  virtual void Stop() = 0;
  // Whether this replica is the one that fetches and records revisions now.
  virtual bool IsLeader() = 0;
  // Asks the leader, wherever it runs, to fetch now (a webhook that reached a follower).
  // Returns at once; a no-op where there is only one server.
  virtual void RequestLeaderSync() {}
};

// The single server of an SQLite store: always the leader, nothing to watch.
class AlwaysLeader : public Leadership {
 public:
  void Start(std::function<void()>) override {}
  void Stop() override {}
  bool IsLeader() override { return true; }
};

}  // namespace plumb
