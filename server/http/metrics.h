#pragma once

// A small Prometheus metrics registry: counters, gauges and histograms (optionally with one
// label), plus callback metrics read at scrape time, rendered in the Prometheus text exposition
// format (version 0.0.4). main() builds one registry and passes it in; there is no global one.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace plumb {

// A monotonically increasing count. Thread-safe (atomic).
class Counter {
 public:
  void Increment(int64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// A value that goes up and down. Thread-safe (atomic).
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double d);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, ascending), with their sum and count.
// Thread-safe (atomics; a scrape during Observe may see the count one ahead of a bucket, which
// Prometheus tolerates).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double value);

  // A consistent-enough copy for rendering: cumulative counts per bound, then +Inf.
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // bounds.size() + 1 entries; the last is +Inf
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot Take() const;

 private:
  const std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // bounds_.size() + 1 (the +Inf bucket)
  std::atomic<double> sum_{0};
  std::atomic<uint64_t> count_{0};
};

// Buckets for durations in seconds, 1ms .. 60s.
std::vector<double> DurationBuckets();

// Owns every metric; hands out stable pointers valid for the registry's lifetime.
// Thread-safe: registration and rendering take the registry's mutex; updates are atomic.
class MetricsRegistry {
 public:
  // Each name may be registered once; registering it again returns the existing metric
  // (PLUMB_CHECKs that the type matches). Names and label names follow Prometheus rules.
  Counter* AddCounter(const std::string& name, const std::string& help);
  Gauge* AddGauge(const std::string& name, const std::string& help);
  Histogram* AddHistogram(const std::string& name, const std::string& help,
                          std::vector<double> bounds);
  // A counter family with one label: Counter for `label_value` (created on first use).
  Counter* LabeledCounter(const std::string& name, const std::string& help,
                          const std::string& label, const std::string& label_value);

  // Callback metrics, computed at scrape time (on the scraping thread; may take locks or query
  // the store, never call back into the registry). A family callback returns label value ->
  // value.
  void AddGaugeCallback(const std::string& name, const std::string& help,
                        std::function<double()> read);
  void AddCounterCallback(const std::string& name, const std::string& help,
                          std::function<double()> read);
  void AddGaugeFamilyCallback(const std::string& name, const std::string& help,
                              const std::string& label,
                              std::function<std::map<std::string, double>()> read);

  // Every metric in the text exposition format, sorted by name.
  std::string RenderText() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Family {
    Type type;
    std::string help;
    std::string label;  // empty: unlabeled
    std::map<std::string, std::unique_ptr<Counter>> counters;  // label value -> counter
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> read;
    std::function<std::map<std::string, double>()> read_family;
  };
  Family* GetOrAdd(const std::string& name, Type type, const std::string& help,
                   const std::string& label) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::map<std::string, Family> families_ ABSL_GUARDED_BY(mu_);
};

// Formats a sample value the way Prometheus parses it (shortest round-trip form, +Inf, NaN).
std::string FormatMetricValue(double value);
// Escapes a label value (backslash, double quote, newline).
std::string EscapeLabelValue(const std::string& value);

}  // namespace plumb
