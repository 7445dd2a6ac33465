// SqliteStore::ListNodesPage: the console's node table, paged in SQL so a fleet of 10,000
// nodes costs one page of protos per request. Labels live inside the node proto, so a label
// selector falls back to Store's in-memory filter.

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/store/sqlite/sqlite_db.h"
#include "server/store/sqlite/sqlite_store.h"

namespace plumb {

absl::StatusOr<Store::NodePage> SqliteStore::ListNodesPage(const NodePageQuery& query) {
  if (!query.selector.empty()) return Store::ListNodesPage(query);
  const char* dir = query.descending ? "DESC" : "ASC";
  std::string order = query.sort == "status" ? absl::StrCat("status ", dir, ", name ", dir)
                                             : absl::StrCat("name ", dir);
  const char* where = " WHERE (?1 = 0 OR status = ?1) AND (?2 = '' OR instr(name, ?2) > 0)";
  NodePage page;
  absl::MutexLock lock(&mu_);
  std::unique_ptr<SqliteStatement> count;
  PLUMB_ASSIGN_OR_RETURN(count, db_->Prepare(absl::StrCat("SELECT COUNT(*) FROM nodes", where)));
  PLUMB_RETURN_IF_ERROR(count->BindInt64(1, query.status));
  PLUMB_RETURN_IF_ERROR(count->BindText(2, query.name_contains));
  PLUMB_RETURN_IF_ERROR(count->ForEachRow([&]() -> absl::Status {
    page.total = count->ColumnInt64(0);
    return absl::OkStatus();
  }));
  std::unique_ptr<SqliteStatement> stmt;
  PLUMB_ASSIGN_OR_RETURN(stmt, db_->Prepare(absl::StrCat("SELECT proto FROM nodes", where,
                                                         " ORDER BY ", order,
                                                         " LIMIT ?3 OFFSET ?4")));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(1, query.status));
  PLUMB_RETURN_IF_ERROR(stmt->BindText(2, query.name_contains));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(3, std::clamp<int64_t>(query.limit, 1, 500)));
  PLUMB_RETURN_IF_ERROR(stmt->BindInt64(4, std::max<int64_t>(query.offset, 0)));
  PLUMB_RETURN_IF_ERROR(stmt->ForEachRow([&]() -> absl::Status {
    v1::Node node;
    if (!node.ParseFromString(stmt->ColumnBlob(0))) {
      return absl::DataLossError("nodes: a stored node does not parse");
    }
    page.nodes.push_back(std::move(node));
    return absl::OkStatus();
  }));
  return page;
}

}  // namespace plumb
