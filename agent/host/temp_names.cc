#include "agent/host/temp_names.h"

#include <sys/random.h>
#include <unistd.h>

#include "absl/strings/str_format.h"

namespace plumb {
namespace {

uint64_t RandomSeed() {
  uint64_t random = 0;
  if (getrandom(&random, sizeof(random), 0) != sizeof(random)) {
    random = static_cast<uint64_t>(getpid()) * 2654435761u ^ reinterpret_cast<uintptr_t>(&random);
  }
  return random;
}

// splitmix64's finaliser: a bijection, so distinct counters give distinct names.
uint64_t Mix(uint64_t x) {
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
  return x ^ (x >> 31);
}

}  // namespace

TempNames::TempNames() : seed_(RandomSeed()) {}

std::string TempNames::Next(const std::string& name) {
  uint64_t random = Mix(seed_ + count_++ * 0x9e3779b97f4a7c15u);
  return absl::StrFormat(".%s.plumb-%016x", name.substr(0, 200), random);
}

}  // namespace plumb
