#include "agent/report_fit.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/wire_limits.h"
#include "google/protobuf/io/coded_stream.h"
#include "common/utf8.h"

namespace plumb {
namespace {

// Makes `field` valid UTF-8 within `max_bytes`; true if it had to be cut (a note-worthy loss;
// replacing invalid bytes is not).
bool FitField(std::string* field, size_t max_bytes) {
  bool cut = field->size() > max_bytes;
  std::string fitted = FitText(*field, max_bytes);
  if (fitted != *field) *field = std::move(fitted);
  return cut;
}

// Bytes one result takes inside the serialized Report: tag, length, body.
size_t FramedSize(const v1::ResourceResult& r) {
  size_t body = r.ByteSizeLong();
  return 1 + google::protobuf::io::CodedOutputStream::VarintSize64(body) + body;
}

// The results' share of a report's size, kept exact while results change, so fitting a
// report of 100,000 results costs one pass, not one ByteSizeLong per change.
class SizeTracker {
 public:
  explicit SizeTracker(v1::Report* report) : report_(report) {
    sizes_.reserve(report->results_size());
    for (const v1::ResourceResult& r : report->results()) sizes_.push_back(FramedSize(r));
    total_ = report->ByteSizeLong();
  }
  size_t total() const { return total_; }
  void Update(int i) {
    size_t now = FramedSize(report_->results(i));
    total_ = total_ - sizes_[i] + now;
    sizes_[i] = now;
  }
  void Remove(int i) { total_ -= sizes_[i]; sizes_[i] = 0; }

 private:
  v1::Report* report_;
  std::vector<size_t> sizes_;
  size_t total_ = 0;
};

// Indices of results, largest `field` first.
template <typename Field>
std::vector<int> LargestFirst(const v1::Report& report, Field field) {
  std::vector<int> order(report.results_size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return field(report.results(a)).size() > field(report.results(b)).size();
  });
  return order;
}

// What fitting did, for the note and the caller.
struct Cuts {
  int fields = 0;    // strings cut to their own limit
  int diffs = 0;     // diffs dropped
  int messages = 0;  // messages cut short
  int results = 0;   // results dropped
};

void FitFields(v1::Report* report, Cuts* cuts) {
  using namespace wire;  // NOLINT: the limits read better unqualified here
  cuts->fields += FitField(report->mutable_id(), kMaxShortFieldBytes);
  cuts->fields += FitField(report->mutable_node(), kMaxNodeNameBytes);
  cuts->fields += FitField(report->mutable_revision(), kMaxShortFieldBytes);
  cuts->fields += FitField(report->mutable_catalog_digest(), kMaxShortFieldBytes);
  cuts->fields += FitField(report->mutable_request_id(), kMaxShortFieldBytes);
  while (static_cast<size_t>(report->results_size()) > kMaxResults) {
    report->mutable_results()->RemoveLast();
    ++cuts->results;
  }
  for (v1::ResourceResult& r : *report->mutable_results()) {
    cuts->fields += FitField(r.mutable_id(), kMaxResourceIdBytes);
    cuts->fields += FitField(r.mutable_message(), kMaxResultMessageBytes);
    if (r.diff().size() > kMaxResultDiffBytes) {
      r.clear_diff();
      ++cuts->diffs;
    } else {
      cuts->fields += FitField(r.mutable_diff(), kMaxResultDiffBytes);
    }
  }
}

// Drops diffs, then shortens messages, then drops results until `tracker` fits `budget`.
void FitSize(v1::Report* report, size_t budget, SizeTracker* tracker, Cuts* cuts) {
  constexpr size_t kShortMessageBytes = 256;
  for (int i : LargestFirst(*report, [](const v1::ResourceResult& r) { return r.diff(); })) {
    if (tracker->total() <= budget || report->results(i).diff().empty()) break;
    report->mutable_results(i)->clear_diff();
    tracker->Update(i);
    ++cuts->diffs;
  }
  for (int i : LargestFirst(*report, [](const v1::ResourceResult& r) { return r.message(); })) {
    if (tracker->total() <= budget) break;
    v1::ResourceResult* r = report->mutable_results(i);
    if (r->message().size() <= kShortMessageBytes) break;
    *r->mutable_message() = FitText(r->message(), kShortMessageBytes);
    tracker->Update(i);
    ++cuts->messages;
  }
  // Results last, unchanged ones first: they say least. Marked here, removed in one pass.
  std::vector<bool> drop(report->results_size(), false);
  for (bool unchanged_only : {true, false}) {
    for (int i = report->results_size() - 1; i >= 0 && tracker->total() > budget; --i) {
      if (drop[i] || (unchanged_only && report->results(i).outcome() != v1::UNCHANGED)) continue;
      drop[i] = true;
      tracker->Remove(i);
      ++cuts->results;
    }
  }
  if (std::find(drop.begin(), drop.end(), true) == drop.end()) return;
  google::protobuf::RepeatedPtrField<v1::ResourceResult> kept;
  for (int i = 0; i < report->results_size(); ++i) {
    if (!drop[i]) kept.Add(std::move(*report->mutable_results(i)));
  }
  report->mutable_results()->Swap(&kept);
}

std::string Note(const Cuts& cuts) {
  std::vector<std::string> parts;
  if (cuts.diffs > 0) parts.push_back(absl::StrCat(cuts.diffs, " diffs dropped"));
  if (cuts.messages > 0) parts.push_back(absl::StrCat(cuts.messages, " messages cut"));
  if (cuts.results > 0) parts.push_back(absl::StrCat(cuts.results, " results dropped"));
  if (cuts.fields > 0) parts.push_back(absl::StrCat(cuts.fields, " fields cut to their limits"));
  return absl::StrCat("report truncated: ", absl::StrJoin(parts, ", "), " to fit ",
                      wire::kMaxReportBytes / wire::kMiB, " MiB");
}

}  // namespace

std::string FitText(absl::string_view text, size_t max_bytes) {
  static constexpr absl::string_view kEllipsis = "…";
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  size_t i = 0;
  while (i < text.size()) {
    size_t n = Utf8SequenceAt(text, i);
    absl::string_view piece = n == 0 ? absl::string_view("?") : text.substr(i, n);
    if (out.size() + piece.size() > max_bytes) {
      // Make room for the ellipsis by dropping whole characters.
      while (!out.empty() && out.size() + kEllipsis.size() > max_bytes) {
        unsigned char b;
        do {
          b = static_cast<unsigned char>(out.back());
          out.pop_back();
        } while (!out.empty() && (b & 0xC0) == 0x80);
      }
      if (out.size() + kEllipsis.size() <= max_bytes) out.append(kEllipsis.data(), kEllipsis.size());
      return out;
    }
    out.append(piece.data(), piece.size());
    i += n == 0 ? 1 : n;
  }
  return out;
}

bool FitReport(v1::Report* report) {
  Cuts cuts;
  FitFields(report, &cuts);
  // Room for the note itself (it is at most a hundred bytes; the limit is 1 KiB).
  const size_t budget = wire::kMaxReportBytes - wire::kMaxReportNoteBytes - 16;
  if (report->ByteSizeLong() > budget) {
    SizeTracker tracker(report);
    FitSize(report, budget, &tracker, &cuts);
  }
  if (cuts.fields + cuts.diffs + cuts.messages + cuts.results == 0) return false;
  report->set_truncated(FitText(Note(cuts), wire::kMaxReportNoteBytes));
  return true;
}

}  // namespace plumb
