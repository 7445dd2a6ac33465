// loadgen: simulates a fleet of plumb agents against a real plumb-server (see bench/fleet.sh).

#include <iostream>

#include "absl/synchronization/mutex.h"

#include "bench/loadgen/fleet_driver.h"
#include "bench/loadgen/loadgen_options.h"

int main(int argc, char** argv) {
  // Debian's Abseil is built without NDEBUG, so absl::Mutex deadlock detection is on; with one
  // mutex per simulated agent it would dominate loadgen's CPU.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  bool help = false;
  auto options = plumb::bench::ParseLoadgenOptions(argc, argv, &help);
  if (help) {
    std::cout << plumb::bench::kLoadgenUsage;
    return 0;
  }
  if (!options.ok()) {
    std::cerr << "loadgen: " << options.status().message() << "\n" << plumb::bench::kLoadgenUsage;
    return 2;
  }
  plumb::bench::FleetDriver driver(*options, &std::cout);
  return driver.Run();
}
