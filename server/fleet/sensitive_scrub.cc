#include "server/fleet/sensitive_scrub.h"

#include <set>
#include <string>

namespace plumb {

int ScrubSensitiveResults(const v1::Catalog& catalog, v1::Report* report) {
  std::set<std::string> sensitive;
  for (const v1::Resource& r : catalog.resources()) {
    if (r.sensitive()) sensitive.insert(r.id());
  }
  int cleared = 0;
  for (v1::ResourceResult& result : *report->mutable_results()) {
    if (!result.diff().empty() && sensitive.count(result.id()) > 0) {
      result.clear_diff();
      ++cleared;
    }
  }
  return cleared;
}

}  // namespace plumb
