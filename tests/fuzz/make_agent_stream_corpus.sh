#!/usr/bin/env bash
# Regenerates the seed corpus of agent_stream_fuzzer (tests/fuzz/agent_stream_corpus): fuzzes
# for a while from the current seeds, then keeps the few inputs (at most 40) that together
# reach the most code, picked greedily from a libFuzzer merge of edge coverage.
#   tests/fuzz/make_agent_stream_corpus.sh [FUZZER] [SECONDS]
# FUZZER defaults to build-fuzz/bin/agent_stream_fuzzer (cmake -DPLUMB_FUZZ=ON), SECONDS to 300.
# Seeds named pinned-* are kept as they are: inputs that once found a bug (pinned-deep-dotted-key:
# a Hello with a deeply dotted label key; without the depth bound the compile's nested template
# context overflowed the stack when freed).
set -euo pipefail
cd "$(dirname "$0")/../.."

FUZZER="${1:-build-fuzz/bin/agent_stream_fuzzer}"
SECS="${2:-300}"
CORPUS=tests/fuzz/agent_stream_corpus
MAX_SEEDS=40

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/found" "$work/merged" "$CORPUS"

timeout $((SECS + 120)) "$FUZZER" -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 \
  -max_len=1024 "$work/found" "$CORPUS" >"$work/fuzz.log" 2>&1 ||
  { echo "fuzzing failed:"; tail -30 "$work/fuzz.log"; exit 1; }
"$FUZZER" -merge=1 -use_counters=0 -rss_limit_mb=2048 -merge_control_file="$work/control" \
  "$work/merged" "$work/found" "$CORPUS" >"$work/merge.log" 2>&1 ||
  { echo "merge failed:"; tail -30 "$work/merge.log"; exit 1; }

python3 - "$work/control" "$CORPUS" "$MAX_SEEDS" <<'EOF'
import hashlib, os, sys

control, corpus, max_seeds = sys.argv[1], sys.argv[2], int(sys.argv[3])
lines = open(control).read().splitlines()
count = int(lines[0])
paths = lines[2:2 + count]
features = {}
for line in lines[2 + count:]:
    parts = line.split()
    if parts and parts[0] == "FT":
        features[int(parts[1])] = set(map(int, parts[2:]))
chosen, covered = [], set()
while len(chosen) < max_seeds:
    best = max(features, key=lambda i: (len(features[i] - covered), -i), default=None)
    if best is None or not features[best] - covered:
        break
    chosen.append(paths[best])
    covered |= features.pop(best)
seeds = {}
for path in chosen:
    data = open(path, "rb").read()
    seeds[hashlib.sha1(data).hexdigest()] = data
for name in os.listdir(corpus):
    if not name.startswith("pinned-"):
        os.remove(os.path.join(corpus, name))
for name, data in seeds.items():
    with open(os.path.join(corpus, name), "wb") as f:
        f.write(data)
print(f"{corpus}: {len(seeds)} seeds covering {len(covered)} features")
EOF
