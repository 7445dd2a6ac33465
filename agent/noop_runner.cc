#include "agent/noop_runner.h"

#include "absl/strings/str_cat.h"
#include "agent/report_fit.h"
#include "common/catalog.h"
#include "common/logging.h"
#include "common/wire_limits.h"

namespace plumb {

absl::Status FetchNoopBlobs(const v1::NoopRequest& request, const NoopRunContext& context) {
  const v1::Catalog& catalog = request.catalog();
  if (ComputeCatalogDigest(catalog) != catalog.digest()) {
    return absl::DataLossError("the planned catalog's digest does not match its resources");
  }
  std::vector<std::string> digests;
  for (const v1::Resource& r : catalog.resources()) {
    if (!r.content_digest().empty()) digests.push_back(r.content_digest());
  }
  return context.fetch_blobs(digests);
}

v1::NoopResult NoopFailure(const v1::NoopRequest& request, const absl::Status& why) {
  v1::NoopResult result;
  result.set_request_id(FitText(request.request_id(), wire::kMaxShortFieldBytes));
  result.set_error(FitText(why.message(), wire::kMaxNoopErrorBytes));
  return result;
}

v1::NoopResult RunNoopRequest(const v1::NoopRequest& request, const NoopRunContext& context) {
  const v1::Catalog& catalog = request.catalog();
  RunOptions options;
  options.noop = true;
  options.trigger = v1::REQUEST;
  v1::NoopResult result;
  result.set_request_id(FitText(request.request_id(), wire::kMaxShortFieldBytes));
  v1::Report* report = result.mutable_report();
  *report = context.engine->Run(catalog, options);
  // With noop, HandleOrphans only says what the candidate would prune: the inventory stays.
  HandleOrphans(context.fs, catalog.prune(), /*noop=*/true, context.inventory,
                context.inventory->Orphans(catalog), report);
  report->set_node(context.node);
  report->set_request_id(result.request_id());
  if (FitReport(report)) LogWarning("noop sample cut to fit", {{"note", report->truncated()}});
  int would_change = 0;
  for (const v1::ResourceResult& r : report->results())
    would_change += r.outcome() != v1::UNCHANGED;
  LogInfo("noop sample run", {{"request", result.request_id()},
                              {"rev", catalog.revision().substr(0, 12)},
                              {"not_unchanged", would_change}});
  return result;
}

}  // namespace plumb
