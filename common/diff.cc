#include "common/diff.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"

namespace plumb {
namespace {

constexpr int kContext = 3;
// Beyond this many edits Myers' search stops and the differing middle is shown as one
// replacement: still a correct diff, and memory stays bounded (about kMaxEdits^2 ints).
constexpr int kMaxEdits = 2000;
constexpr size_t kMaxInputBytes = 8 * 1024 * 1024;

// Lines keep their trailing '\n' so that "a" and "a\n" compare different.
std::vector<absl::string_view> SplitLines(absl::string_view text) {
  std::vector<absl::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == absl::string_view::npos) end = text.size() - 1;
    lines.push_back(text.substr(start, end - start + 1));
    start = end + 1;
  }
  return lines;
}

struct Edit {
  char op;  // ' ', '-', '+'
  int old_index;
  int new_index;
};

// Myers' O(ND) diff over a[lo_a, hi_a) and b[lo_b, hi_b); false if more than kMaxEdits edits.
bool MyersDiff(const std::vector<absl::string_view>& a, const std::vector<absl::string_view>& b,
               int lo_a, int hi_a, int lo_b, int hi_b, std::vector<Edit>* out) {
  const int n = hi_a - lo_a, m = hi_b - lo_b;
  const int max_d = std::min(n + m, kMaxEdits);
  const int offset = max_d + 1;
  std::vector<int> v(2 * max_d + 3, 0);
  std::vector<std::vector<int>> trace;  // trace[d][k + d]: v[k] at the start of round d
  for (int d = 0; d <= max_d; ++d) {
    trace.emplace_back(v.begin() + offset - d, v.begin() + offset + d + 1);
    for (int k = -d; k <= d; k += 2) {
      int x = (k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1]))
                  ? v[offset + k + 1]
                  : v[offset + k - 1] + 1;
      int y = x - k;
      while (x < n && y < m && a[lo_a + x] == b[lo_b + y]) ++x, ++y;
      v[offset + k] = x;
      if (x < n || y < m) continue;
      // Walk back through the rounds to recover the edit script (built in reverse).
      std::vector<Edit> reversed;
      for (int dd = d; dd > 0; --dd) {
        const std::vector<int>& pv = trace[dd];
        auto at = [&](int kk) { return pv[kk + dd]; };
        int kk = x - y;
        int prev_k = (kk == -dd || (kk != dd && at(kk - 1) < at(kk + 1))) ? kk + 1 : kk - 1;
        int prev_x = at(prev_k), prev_y = prev_x - prev_k;
        while (x > prev_x && y > prev_y) --x, --y, reversed.push_back({' ', lo_a + x, lo_b + y});
        if (x == prev_x) {
          reversed.push_back({'+', lo_a + x, lo_b + prev_y});
        } else {
          reversed.push_back({'-', lo_a + prev_x, lo_b + y});
        }
        x = prev_x;
        y = prev_y;
      }
      while (x > 0 && y > 0) --x, --y, reversed.push_back({' ', lo_a + x, lo_b + y});
      out->insert(out->end(), reversed.rbegin(), reversed.rend());
      return true;
    }
  }
  return false;
}

std::vector<Edit> EditScript(const std::vector<absl::string_view>& a,
                             const std::vector<absl::string_view>& b) {
  int prefix = 0;
  const int na = static_cast<int>(a.size()), nb = static_cast<int>(b.size());
  while (prefix < na && prefix < nb && a[prefix] == b[prefix]) ++prefix;
  int suffix = 0;
  while (suffix < na - prefix && suffix < nb - prefix && a[na - 1 - suffix] == b[nb - 1 - suffix]) {
    ++suffix;
  }
  std::vector<Edit> edits;
  for (int i = 0; i < prefix; ++i) edits.push_back({' ', i, i});
  if (!MyersDiff(a, b, prefix, na - suffix, prefix, nb - suffix, &edits)) {
    for (int i = prefix; i < na - suffix; ++i) edits.push_back({'-', i, prefix});
    for (int j = prefix; j < nb - suffix; ++j) edits.push_back({'+', na - suffix, j});
  }
  for (int i = suffix; i > 0; --i) edits.push_back({' ', na - i, nb - i});
  return edits;
}

// GNU style: "start,count", or "start" alone when count is 1; an empty range names the line
// before it.
std::string Range(int first, int count) {
  if (count == 1) return absl::StrCat(first + 1);
  return absl::StrCat(count == 0 ? first : first + 1, ",", count);
}

void AppendLine(std::string* out, char op, absl::string_view line) {
  out->push_back(op);
  if (!line.empty() && line.back() == '\n') {
    absl::StrAppend(out, line);
  } else {
    absl::StrAppend(out, line, "\n\\ No newline at end of file\n");
  }
}

}  // namespace

std::string UnifiedDiff(absl::string_view old_text, absl::string_view new_text,
                        absl::string_view old_label, absl::string_view new_label,
                        size_t max_bytes) {
  if (old_text == new_text) return "";
  if (old_text.find('\0') != absl::string_view::npos ||
      new_text.find('\0') != absl::string_view::npos) {
    return absl::StrCat("Binary files ", old_label, " and ", new_label, " differ\n");
  }
  if (old_text.size() > kMaxInputBytes || new_text.size() > kMaxInputBytes) {
    return absl::StrCat("Files ", old_label, " and ", new_label, " differ (too large to diff)\n");
  }
  std::vector<absl::string_view> a = SplitLines(old_text), b = SplitLines(new_text);
  std::vector<Edit> edits = EditScript(a, b);
  std::string out = absl::StrCat("--- ", old_label, "\n+++ ", new_label, "\n");
  const int total = static_cast<int>(edits.size());
  int i = 0;
  while (i < total) {
    while (i < total && edits[i].op == ' ') ++i;
    if (i == total) break;
    // A hunk runs from kContext lines before a change until kContext equal lines follow the
    // last change that is not more than 2 * kContext equal lines from the next one.
    int start = std::max(0, i - kContext);
    int last_change = i;
    for (int j = i; j < total && j - last_change <= 2 * kContext; ++j) {
      if (edits[j].op != ' ') last_change = j;
    }
    int end = std::min(total, last_change + 1 + kContext);
    int old_count = 0, new_count = 0;
    for (int j = start; j < end; ++j) {
      if (edits[j].op != '+') ++old_count;
      if (edits[j].op != '-') ++new_count;
    }
    absl::StrAppend(&out, "@@ -", Range(edits[start].old_index, old_count), " +",
                    Range(edits[start].new_index, new_count), " @@\n");
    for (int j = start; j < end; ++j) {
      const Edit& e = edits[j];
      AppendLine(&out, e.op, e.op == '+' ? b[e.new_index] : a[e.old_index]);
    }
    if (out.size() > max_bytes) {
      out.resize(max_bytes);
      absl::StrAppend(&out, "\n... diff truncated at ", max_bytes, " bytes\n");
      return out;
    }
    i = end;
  }
  return out;
}

}  // namespace plumb
