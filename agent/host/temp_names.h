#pragma once

// Names for the temp files and links that are renamed over a managed path.

#include <cstdint>
#include <string>

namespace plumb {

// Hands out ".NAME.plumb-<16 hex>" names, distinct within one object (a bijective mix of a
// counter and a random seed read once), so a run's thousands of temp files cost no getrandom
// each. Callers still create them O_EXCL. Thread-compatible.
class TempNames {
 public:
  TempNames();
  // A name next to `name` (its first 200 bytes) in the same directory.
  std::string Next(const std::string& name);

 private:
  const uint64_t seed_;
  uint64_t count_ = 0;
};

}  // namespace plumb
