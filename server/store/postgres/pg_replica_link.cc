#include "server/store/postgres/pg_replica_link.h"

#include <unistd.h>

#include <utility>
#include <vector>

#include "absl/random/random.h"
#include "absl/strings/str_format.h"
#include "common/logging.h"
#include "common/status_macros.h"
#include "server/store/postgres/pg_conn.h"

namespace plumb {
namespace {

constexpr int kReadBatch = 1000;

PgParam Millis(absl::Duration d) { return PgParam::Int(absl::ToInt64Milliseconds(d)); }

}  // namespace

std::string PgReplicaLink::NewReplicaId() {
  char host[256] = {0};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  absl::BitGen gen;
  return absl::StrFormat("%s-%d-%06x", host, ::getpid(), absl::Uniform<uint32_t>(gen) & 0xffffff);
}

absl::StatusOr<std::unique_ptr<PgReplicaLink>> PgReplicaLink::Open(const std::string& url,
                                                                   const std::string& password,
                                                                   std::string replica_id,
                                                                   PgReplicaLinkOptions options) {
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<PgConn> conn, PgConn::Connect(url, password));
  PLUMB_ASSIGN_OR_RETURN(std::unique_ptr<PgNotificationDispatcher> notices,
                         PgNotificationDispatcher::Open(url, password, options.poll));
  return std::unique_ptr<PgReplicaLink>(
      new PgReplicaLink(std::move(conn), std::move(notices), std::move(replica_id), options));
}

PgReplicaLink::PgReplicaLink(std::unique_ptr<PgConn> conn,
                             std::unique_ptr<PgNotificationDispatcher> notices, std::string id,
                             PgReplicaLinkOptions options)
    : id_(std::move(id)), options_(options), conn_(std::move(conn)), notices_(std::move(notices)) {}

PgReplicaLink::~PgReplicaLink() { Stop(); }

void PgReplicaLink::Start(std::function<void(const ReplicaMessage&)> on_message) {
  on_message_ = std::move(on_message);
  (void)notices_->Subscribe(kReplicaChannel, [this](const std::string&, bool) {
    absl::MutexLock lock(&mu_);
    read_wanted_ = true;
    wake_ = true;
  });
  notices_->Start();
  thread_ = std::thread([this] { Loop(); });
}

void PgReplicaLink::Stop() {
  if (notices_ != nullptr) notices_->Stop();
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
  if (conn_ != nullptr && conn_->connected()) {
    // A replica that stops cleanly hands its nodes over at once rather than after the expiry.
    (void)conn_->Query("DELETE FROM node_streams WHERE replica = $1", {PgParam::Text(id_)});
    (void)conn_->Query("DELETE FROM replica_heartbeats WHERE replica = $1", {PgParam::Text(id_)});
  }
}

void PgReplicaLink::Send(std::string kind, std::string ref, std::string payload) {
  absl::MutexLock lock(&mu_);
  outbox_.push_back({id_, std::move(kind), std::move(ref), std::move(payload)});
  if (outbox_.size() > options_.max_queued) {
    outbox_.pop_front();
    if (dropped_++ % 1000 == 0) LogWarning("replica messages dropped (database down?)", {});
  }
  wake_ = true;
}

void PgReplicaLink::SetHolding(const std::string& node, bool holding) {
  absl::MutexLock lock(&mu_);
  bool changed = holding ? holding_.insert(node).second : holding_.erase(node) > 0;
  if (changed) {
    presence_dirty_ = true;
    wake_ = true;
  }
}

int PgReplicaLink::OtherLiveReplicas() const {
  absl::MutexLock lock(&mu_);
  return other_live_;
}

void PgReplicaLink::Loop() {
  while (true) {
    bool read = false;
    bool presence = false;
    {
      absl::MutexLock lock(&mu_);
      auto woken = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return wake_ || stopping_; };
      mu_.AwaitWithTimeout(absl::Condition(&woken), options_.flush);
      if (stopping_) return;
      wake_ = false;
      read = read_wanted_;
      presence = presence_dirty_;
    }
    // Presence changes are written at most every `flush`, with the heartbeat otherwise.
    if (!conn_->connected()) {
      if (!conn_->EnsureConnected().ok()) continue;
      absl::MutexLock lock(&mu_);
      resync_ = true;
      read = true;
    }
    absl::Status status = FlushMessages();
    if (status.ok() && read) status = ReadMessages();
    if (status.ok() && (presence || absl::Now() >= next_heartbeat_)) status = WritePresence();
    if (status.ok() && absl::Now() >= next_prune_) status = Prune();
    if (!status.ok()) LogWarning("replica link", {{"error", status.message()}});
    // Throttle: a burst of SetHolding/Send costs one round of statements per `flush`.
    absl::MutexLock lock(&mu_);
    mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.flush);
  }
}

absl::Status PgReplicaLink::FlushMessages() {
  std::deque<ReplicaMessage> batch;
  {
    absl::MutexLock lock(&mu_);
    batch.swap(outbox_);
  }
  if (batch.empty()) return absl::OkStatus();
  PgArray kinds, refs, payloads;
  for (const ReplicaMessage& m : batch) {
    kinds.AddText(m.kind);
    refs.AddText(m.ref);
    payloads.AddBytes(m.payload);
  }
  absl::Status status = conn_->InTransaction([&]() -> absl::Status {
    // Ids are taken under the lock, so a reader never sees id n+1 committed before n.
    PLUMB_RETURN_IF_ERROR(conn_->ExecScript("LOCK TABLE replica_messages IN EXCLUSIVE MODE"));
    PLUMB_RETURN_IF_ERROR(
        conn_
            ->Query("INSERT INTO replica_messages (origin, kind, ref, payload)"
                    " SELECT $1, k, r, p FROM unnest($2::text[], $3::text[], $4::bytea[])"
                    " WITH ORDINALITY AS t(k, r, p, i) ORDER BY i",
                    {PgParam::Text(id_), kinds.Param(), refs.Param(), payloads.Param()})
            .status());
    return conn_->Query("SELECT pg_notify($1, '')", {PgParam::Text(kReplicaChannel)}).status();
  });
  if (!status.ok()) {
    absl::MutexLock lock(&mu_);
    // Back in front of what was queued since, in order; the bound applies again at Send.
    for (auto it = batch.rbegin(); it != batch.rend(); ++it) outbox_.push_front(std::move(*it));
  }
  return status;
}

absl::Status PgReplicaLink::ReadMessages() {
  {
    absl::MutexLock lock(&mu_);
    read_wanted_ = false;
  }
  if (last_read_ < 0) {
    // Messages sent before this replica started are not for it.
    PLUMB_ASSIGN_OR_RETURN(PgResult max,
                           conn_->Query("SELECT coalesce(max(id), 0) FROM replica_messages"));
    last_read_ = max.Int(0, 0);
    return absl::OkStatus();
  }
  while (true) {
    absl::StatusOr<PgResult> got = conn_->Query(
        "SELECT id, origin, kind, ref, payload FROM replica_messages WHERE id > $1"
        " ORDER BY id LIMIT 1000",
        {PgParam::Int(last_read_)});
    if (!got.ok()) {
      absl::MutexLock lock(&mu_);
      read_wanted_ = true;
      return got.status();
    }
    for (int row = 0; row < got->rows(); ++row) {
      last_read_ = got->Int(row, 0);
      ReplicaMessage m{got->Bytes(row, 1), got->Bytes(row, 2), got->Bytes(row, 3),
                       got->Bytes(row, 4)};
      if (m.origin != id_ && on_message_) on_message_(m);
    }
    if (got->rows() < kReadBatch) return absl::OkStatus();
  }
}

absl::Status PgReplicaLink::WritePresence() {
  std::set<std::string> holding;
  bool resync;
  {
    absl::MutexLock lock(&mu_);
    holding = holding_;
    resync = resync_;
    presence_dirty_ = false;
  }
  PgArray added, removed;
  for (const std::string& n : holding) {
    if (resync || !written_.count(n)) added.AddText(n);
  }
  for (const std::string& n : written_) {
    if (!holding.count(n)) removed.AddText(n);
  }
  int64_t live = 0;
  bool fresh = false;
  absl::Status status = conn_->InTransaction([&]() -> absl::Status {
    PLUMB_ASSIGN_OR_RETURN(
        PgResult beat,
        conn_->Query("INSERT INTO replica_heartbeats (replica, expires_at)"
                     " VALUES ($1, now() + $2::bigint * interval '1 millisecond')"
                     " ON CONFLICT (replica) DO UPDATE SET expires_at = excluded.expires_at"
                     " RETURNING (xmax = 0)",
                     {PgParam::Text(id_), Millis(options_.expiry)}));
    fresh = beat.rows() == 1 && beat.Int(0, 0) != 0;
    if (resync || fresh) {
      PLUMB_RETURN_IF_ERROR(
          conn_->Query("DELETE FROM node_streams WHERE replica = $1", {PgParam::Text(id_)})
              .status());
    } else if (!removed.empty()) {
      PLUMB_RETURN_IF_ERROR(conn_
                                ->Query("DELETE FROM node_streams WHERE replica = $1 AND"
                                        " node = ANY($2::text[])",
                                        {PgParam::Text(id_), removed.Param()})
                                .status());
    }
    if (!added.empty()) {
      PLUMB_RETURN_IF_ERROR(conn_
                                ->Query("INSERT INTO node_streams (node, replica) SELECT n, $1"
                                        " FROM unnest($2::text[]) AS t(n) ON CONFLICT DO NOTHING",
                                        {PgParam::Text(id_), added.Param()})
                                .status());
    }
    PLUMB_ASSIGN_OR_RETURN(
        PgResult others, conn_->Query("SELECT count(*) FROM replica_heartbeats WHERE replica <> $1"
                                      " AND expires_at > now()",
                                      {PgParam::Text(id_)}));
    live = others.Int(0, 0);
    return absl::OkStatus();
  });
  absl::MutexLock lock(&mu_);
  if (!status.ok()) {
    resync_ = true;
    presence_dirty_ = true;
    return status;
  }
  // A heartbeat row that was gone (pruned while this replica could not write): the rows of its
  // streams were deleted and only `added` rewritten, so rewrite them all next turn.
  resync_ = fresh && !resync;
  if (resync_) presence_dirty_ = true;
  written_ = std::move(holding);
  other_live_ = static_cast<int>(live);
  next_heartbeat_ = absl::Now() + options_.heartbeat;
  return absl::OkStatus();
}

absl::Status PgReplicaLink::Prune() {
  next_prune_ = absl::Now() + absl::Minutes(1);
  PgParam keep = Millis(options_.keep);
  PLUMB_RETURN_IF_ERROR(conn_
                            ->Query("DELETE FROM replica_messages WHERE created_at <"
                                    " now() - $1::bigint * interval '1 millisecond'",
                                    {keep})
                            .status());
  return conn_->InTransaction([&]() -> absl::Status {
    PLUMB_RETURN_IF_ERROR(
        conn_
            ->Query("DELETE FROM node_streams WHERE replica IN (SELECT replica FROM"
                    " replica_heartbeats WHERE expires_at < now() - $1::bigint * interval"
                    " '1 millisecond')",
                    {keep})
            .status());
    return conn_
        ->Query(
            "DELETE FROM replica_heartbeats WHERE expires_at <"
            " now() - $1::bigint * interval '1 millisecond'",
            {keep})
        .status();
  });
}

}  // namespace plumb
