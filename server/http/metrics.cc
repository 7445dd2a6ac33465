#include "server/http/metrics.h"

#include <cmath>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"

namespace plumb {
namespace {

void AtomicAdd(std::atomic<double>* target, double d) {
  double old = target->load(std::memory_order_relaxed);
  while (!target->compare_exchange_weak(old, old + d, std::memory_order_relaxed)) {
  }
}

void AppendHeader(std::string* out, const std::string& name, const std::string& help,
                  const char* type) {
  // HELP text escapes backslash and newline (the exposition format's rule for HELP).
  std::string escaped;
  for (char c : help) {
    if (c == '\\') escaped += "\\\\";
    else if (c == '\n') escaped += "\\n";
    else escaped.push_back(c);
  }
  absl::StrAppend(out, "# HELP ", name, " ", escaped, "\n# TYPE ", name, " ", type, "\n");
}

void AppendSample(std::string* out, const std::string& name, const std::string& label,
                  const std::string& label_value, double value) {
  out->append(name);
  if (!label.empty()) absl::StrAppend(out, "{", label, "=\"", EscapeLabelValue(label_value), "\"}");
  absl::StrAppend(out, " ", FormatMetricValue(value), "\n");
}

}  // namespace

std::string FormatMetricValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(value));
  }
  for (int precision = 6; precision <= 17; ++precision) {
    std::string text = absl::StrFormat("%.*g", precision, value);
    if (std::strtod(text.c_str(), nullptr) == value) return text;
  }
  return absl::StrFormat("%.17g", value);
}

std::string EscapeLabelValue(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out.push_back(c);
  }
  return out;
}

void Gauge::Add(double d) { AtomicAdd(&value_, d); }

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), buckets_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0);
}

void Histogram::Observe(double value) {
  size_t i = 0;
  while (i < bounds_.size() && value > bounds_[i]) ++i;  // le: bucket i holds v <= bounds_[i]
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  AtomicAdd(&sum_, value);
  count_.fetch_add(1, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Take() const {
  Snapshot s;
  s.bounds = bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += buckets_[i].load(std::memory_order_relaxed);
    s.cumulative.push_back(running);
  }
  s.sum = sum_.load(std::memory_order_relaxed);
  // The +Inf bucket must equal _count; use the buckets' total so the two always agree.
  s.count = running;
  return s;
}

std::vector<double> DurationBuckets() {
  return {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
}

MetricsRegistry::Family* MetricsRegistry::GetOrAdd(const std::string& name, Type type,
                                                   const std::string& help,
                                                   const std::string& label) {
  auto [it, inserted] = families_.try_emplace(name);
  Family& f = it->second;
  if (inserted) {
    f.type = type;
    f.help = help;
    f.label = label;
  }
  PLUMB_CHECK(f.type == type && f.label == label);
  return &f;
}

Counter* MetricsRegistry::AddCounter(const std::string& name, const std::string& help) {
  return LabeledCounter(name, help, "", "");
}

Counter* MetricsRegistry::LabeledCounter(const std::string& name, const std::string& help,
                                         const std::string& label,
                                         const std::string& label_value) {
  absl::MutexLock lock(&mu_);
  Family* f = GetOrAdd(name, Type::kCounter, help, label);
  std::unique_ptr<Counter>& c = f->counters[label_value];
  if (c == nullptr) c = std::make_unique<Counter>();
  return c.get();
}

Gauge* MetricsRegistry::AddGauge(const std::string& name, const std::string& help) {
  absl::MutexLock lock(&mu_);
  Family* f = GetOrAdd(name, Type::kGauge, help, "");
  if (f->gauge == nullptr) f->gauge = std::make_unique<Gauge>();
  return f->gauge.get();
}

Histogram* MetricsRegistry::AddHistogram(const std::string& name, const std::string& help,
                                         std::vector<double> bounds) {
  absl::MutexLock lock(&mu_);
  Family* f = GetOrAdd(name, Type::kHistogram, help, "");
  if (f->histogram == nullptr) f->histogram = std::make_unique<Histogram>(std::move(bounds));
  return f->histogram.get();
}

void MetricsRegistry::AddGaugeCallback(const std::string& name, const std::string& help,
                                       std::function<double()> read) {
  absl::MutexLock lock(&mu_);
  GetOrAdd(name, Type::kGauge, help, "")->read = std::move(read);
}

void MetricsRegistry::AddCounterCallback(const std::string& name, const std::string& help,
                                         std::function<double()> read) {
  absl::MutexLock lock(&mu_);
  GetOrAdd(name, Type::kCounter, help, "")->read = std::move(read);
}

void MetricsRegistry::AddGaugeFamilyCallback(const std::string& name, const std::string& help,
                                             const std::string& label,
                                             std::function<std::map<std::string, double>()> read) {
  absl::MutexLock lock(&mu_);
  GetOrAdd(name, Type::kGauge, help, label)->read_family = std::move(read);
}

std::string MetricsRegistry::RenderText() const {
  // Copy what to render under the lock; run callbacks (which may query the store) outside it.
  struct Item {
    std::string name;
    Type type;
    std::string help;
    std::string label;
    std::vector<std::pair<std::string, double>> values;
    std::function<double()> read;
    std::function<std::map<std::string, double>()> read_family;
    const Histogram* histogram = nullptr;
  };
  std::vector<Item> items;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [name, f] : families_) {
      Item item{name, f.type, f.help, f.label, {}, f.read, f.read_family, f.histogram.get()};
      for (const auto& [value, c] : f.counters) {
        item.values.emplace_back(value, static_cast<double>(c->value()));
      }
      if (f.gauge != nullptr) item.values.emplace_back("", f.gauge->value());
      items.push_back(std::move(item));
    }
  }
  std::string out;
  for (Item& item : items) {
    const char* type = item.type == Type::kCounter ? "counter"
                       : item.type == Type::kGauge ? "gauge"
                                                   : "histogram";
    AppendHeader(&out, item.name, item.help, type);
    if (item.read) item.values.emplace_back("", item.read());
    if (item.read_family) {
      for (const auto& [value, v] : item.read_family()) item.values.emplace_back(value, v);
    }
    for (const auto& [label_value, v] : item.values) {
      AppendSample(&out, item.name, item.label, label_value, v);
    }
    if (item.histogram == nullptr) continue;
    Histogram::Snapshot s = item.histogram->Take();
    for (size_t i = 0; i <= s.bounds.size(); ++i) {
      std::string le = i < s.bounds.size() ? FormatMetricValue(s.bounds[i]) : "+Inf";
      AppendSample(&out, item.name + "_bucket", "le", le, static_cast<double>(s.cumulative[i]));
    }
    AppendSample(&out, item.name + "_sum", "", "", s.sum);
    AppendSample(&out, item.name + "_count", "", "", static_cast<double>(s.count));
  }
  return out;
}

}  // namespace plumb
