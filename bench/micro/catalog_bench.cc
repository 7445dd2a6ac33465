// Catalog micro-benchmarks: sealing (resource versions + digest), the digest alone, the
// delta the server computes for each agent, and the agent's parse of its held catalog.

#include "absl/strings/str_format.h"
#include "agent/held_catalog.h"
#include "benchmark/benchmark.h"
#include "common/catalog.h"

namespace plumb {
namespace bench {
namespace {

// A catalog of `count` file resources shaped like compiled ones (attributes, relations).
v1::Catalog MakeCatalog(int count, int edition = 0) {
  v1::Catalog catalog;
  catalog.set_revision(absl::StrFormat("%040d", edition));
  for (int i = 0; i < count; ++i) {
    v1::Resource* r = catalog.add_resources();
    r->set_type("file");
    r->set_name(absl::StrFormat("/etc/app/file-%05d.conf", i));
    r->set_id(ResourceId(r->type(), r->name()));
    (*r->mutable_attributes())["mode"].set_str("0644");
    (*r->mutable_attributes())["owner"].set_str("root");
    (*r->mutable_attributes())["ensure"].set_str("present");
    r->add_require("directory:/etc/app");
    // Edition changes the content of resource 0 only: a one-line commit.
    r->set_content_digest(absl::StrFormat("%064x", i == 0 ? i + edition : i));
    r->set_content_size(200);
    r->set_source_location(absl::StrFormat("modules/app/module.yaml:%d:5", 3 + 4 * i));
  }
  return catalog;
}

std::map<std::string, std::string> Held(const v1::Catalog& catalog) {
  std::map<std::string, std::string> held;
  for (const v1::Resource& r : catalog.resources()) held[r.id()] = r.version();
  return held;
}

// Args: resources.
void BM_SealCatalog(benchmark::State& state) {
  v1::Catalog catalog = MakeCatalog(static_cast<int>(state.range(0)));
  for (auto _ : state) {
    v1::Catalog copy = catalog;
    SealCatalog(&copy);
    benchmark::DoNotOptimize(copy.digest());
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_SealCatalog)->Arg(40)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

// The digest over already versioned resources (what an agent verifies). Args: resources.
void BM_CatalogDigest(benchmark::State& state) {
  v1::Catalog catalog = MakeCatalog(static_cast<int>(state.range(0)));
  SealCatalog(&catalog);
  for (auto _ : state) benchmark::DoNotOptimize(ComputeCatalogDigest(catalog));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
// What the daemon pays per run for holding its catalog serialized (agent/held_catalog.h): one
// parse of the held bytes, on the heap (Hello, updates) and on an arena (runs). Args: resources.
void BM_ParseHeldCatalog(benchmark::State& state) {
  v1::Catalog catalog = MakeCatalog(static_cast<int>(state.range(0)));
  SealCatalog(&catalog);
  HeldCatalog held;
  held.Set(catalog);
  for (auto _ : state) {
    v1::Catalog parsed = held.Parse();
    benchmark::DoNotOptimize(parsed.resources_size());
  }
  state.SetBytesProcessed(state.iterations() * held.serialized().size());
}
BENCHMARK(BM_ParseHeldCatalog)->Arg(1000)->Arg(5000)->Unit(benchmark::kMicrosecond);

void BM_ParseHeldCatalogArena(benchmark::State& state) {
  v1::Catalog catalog = MakeCatalog(static_cast<int>(state.range(0)));
  SealCatalog(&catalog);
  HeldCatalog held;
  held.Set(catalog);
  for (auto _ : state) {
    HeldCatalog::OnArena parsed = held.ParseOnArena();
    benchmark::DoNotOptimize(parsed.catalog->resources_size());
  }
  state.SetBytesProcessed(state.iterations() * held.serialized().size());
}
BENCHMARK(BM_ParseHeldCatalogArena)->Arg(1000)->Arg(5000)->Unit(benchmark::kMicrosecond);

BENCHMARK(BM_CatalogDigest)->Arg(40)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

// The delta for an agent holding the previous revision, one resource changed. Args: resources.
void BM_ComputeDeltaOneChange(benchmark::State& state) {
  v1::Catalog old_catalog = MakeCatalog(static_cast<int>(state.range(0)), 0);
  v1::Catalog new_catalog = MakeCatalog(static_cast<int>(state.range(0)), 1);
  SealCatalog(&old_catalog);
  SealCatalog(&new_catalog);
  std::map<std::string, std::string> held = Held(old_catalog);
  for (auto _ : state) {
    v1::CatalogUpdate update = ComputeDelta(held, new_catalog);
    if (update.upserted_size() != 1) state.SkipWithError("expected exactly one upsert");
    benchmark::DoNotOptimize(update);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ComputeDeltaOneChange)->Arg(40)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

// The full update for a new agent (nothing held). Args: resources.
void BM_ComputeDeltaFull(benchmark::State& state) {
  v1::Catalog catalog = MakeCatalog(static_cast<int>(state.range(0)));
  SealCatalog(&catalog);
  for (auto _ : state) {
    v1::CatalogUpdate update = ComputeDelta({}, catalog);
    benchmark::DoNotOptimize(update);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_ComputeDeltaFull)->Arg(40)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace bench
}  // namespace plumb
