#include "bench/micro/bench_reports.h"

#include <string>

#include "absl/strings/str_format.h"

namespace plumb {
namespace bench {

v1::Report MakeReport(int64_t n, int results) {
  v1::Report report;
  report.set_id(absl::StrFormat("bench-%012d", n));
  report.set_node(absl::StrFormat("node-%04d", n % 1000));
  report.set_revision(std::string(40, 'a'));
  report.set_trigger(v1::INTERVAL);
  report.set_started_unix_ms(1700000000000 + n);
  report.set_duration_us(1500);
  for (int i = 0; i < results; ++i) {
    v1::ResourceResult* r = report.add_results();
    r->set_id(absl::StrFormat("file:/etc/app/file-%03d.conf", i));
    r->set_outcome(i == 0 ? v1::CHANGED : v1::UNCHANGED);
    if (i == 0) r->set_message("content replaced (200 bytes)");
  }
  return report;
}

}  // namespace bench
}  // namespace plumb
