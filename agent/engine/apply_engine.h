#pragma once

// Applies a catalog to the host under `root`: orders resources by their relations, checks each
// one, changes what differs (or, in noop, only says what would change), and returns the report.

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/clock.h"
#include "plumb/v1/types.pb.h"

namespace plumb {

// Where the engine gets file contents by digest (the agent's blob cache, or a compile result
// in masterless mode). Thread-safe.
class BlobSource {
 public:
  virtual ~BlobSource() = default;
  // NotFound if the blob is not available.
  virtual absl::StatusOr<std::string> Get(const std::string& digest) = 0;
  // True if Get only returns content this process computed the digest of itself (a compile
  // result), so that readers need not hash it again; false for anything read from disk.
  virtual bool ContentVerified() const { return false; }
};

struct RunOptions {
  bool noop = false;
  v1::RunTrigger trigger = v1::CATALOG;
};

class CommandRunner;  // agent/host/command_runner.h
class Filesystem;     // agent/host/filesystem.h

// Thread-compatible: one run at a time.
class ApplyEngine {
 public:
  // Providers touch files through `fs` (NewRootedFilesystem(root) in production); `root` is
  // the prefix `fs` resolves under, handed to exec commands as PLUMB_ROOT. `fs`, `blobs`,
  // `runner`, `clock` are not owned and must outlive the engine.
  ApplyEngine(Filesystem* fs, std::string root, BlobSource* blobs, CommandRunner* runner,
              Clock* clock);
  ~ApplyEngine();

  // Applies `catalog` and returns the report: revision, catalog_digest, trigger, noop,
  // started_unix_ms, duration_us and one result per resource in apply order. The caller fills
  // in report id and node. Never fails as a whole: problems are per-resource FAILED results.
  v1::Report Run(const v1::Catalog& catalog, const RunOptions& options);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace plumb
