#!/usr/bin/env bash
# Benchmark of the dependency map (issue: map). Three figures, each against a peer run in the
# same invocation where there is one:
#  1. One observation sample of 4 lab hosts (the constant /proc script, every host at once)
#     vs `ss -tnpH` on the same hosts over the same open ssh masters
#     (crates/observe/examples/fleet_sample_bench.rs; the lab's minimal root has no `ss`,
#     so the machine's binary and its libraries are copied into each host). Target: the
#     sample within 1.5x of ss.
#  2. `fearless discover --for 2s` on the 4 hosts, end to end (observe, package lookup,
#     HTTP probes, draft, validation, store). Target: under 5 s beyond the window.
#  3. `fearless-map`'s svg() of a generated 500-component map (layout and drawing), with
#     writing the DOT text as the peer. Target: under 1 s.
# Needs root (it brings up its own 4-host lab, so no other lab may be up) and builds release
# (PROFILE=dev for a quicker, unoptimised build: the first two figures are dominated by the
# hosts, not by fearless' own code).
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-10}

for a in 11 12 13 14; do
  if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.$a/22" 2>/dev/null; then
    echo "bench/map.sh: something listens on 127.0.0.$a:22: a lab is up already (one per machine)." >&2
    exit 2
  fi
done
command -v ss >/dev/null || { echo "bench/map.sh: needs ss (iproute2) on this machine, the peer" >&2; exit 2; }

profile=${PROFILE:-release}
cargo build -q --profile "$profile" -p fearless-cli
cargo build -q --profile "$profile" -p fearless-observe --example fleet_sample_bench
cargo build -q --profile "$profile" -p fearless-map --example map_bench
dir=$profile; [ "$profile" = dev ] && dir=debug
target="${CARGO_TARGET_DIR:-target}/$dir"
bin="$target/fearless"
work=$(mktemp -d)
lab="$work/lab"
trap '"$bin" -q lab down --dir "$lab" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"$bin" -q lab up --dir "$lab" --hosts 4 >/dev/null

# ss and the libraries it links, into each host
for h in web-1 web-2 web-3 web-4; do
  d="$lab/hosts/$h/merged/usr/local/lib/bench-ss"
  mkdir -p "$d"
  cp "$(command -v ss)" "$d/ss"
  for lib in $(ldd "$(command -v ss)" | awk '/=>/ { print $3 }'); do cp "$lib" "$d/"; done
done

echo "== 1. one sample of 4 hosts vs ss -tnpH over the same masters ($rounds rounds)"
out=$("$target/examples/fleet_sample_bench" "$lab/fearless.yaml" \
  env LD_LIBRARY_PATH=/usr/local/lib/bench-ss /usr/local/lib/bench-ss/ss -tnpH --rounds "$rounds")
echo "$out"
ratio=$(echo "$out" | awk '/^ratio_sample_over_ss/ { print $2 }')
if (( $(echo "$ratio <= 1.5" | bc -l) )); then echo "PASS sample/ss = ${ratio}x (target <= 1.5x)"; else echo "FAIL sample/ss = ${ratio}x (target <= 1.5x)"; fi

echo "== 2. discover --for 2s on 4 hosts"
start=$(date +%s.%N)
FEARLESS_USER=bench "$bin" -q -c "$lab/fearless.yaml" --store "sqlite:$work/bench.db" \
  discover --for 2s -o "$work/draft.yaml" >/dev/null
wall=$(echo "$(date +%s.%N) - $start" | bc -l)
beyond=$(echo "$wall - 2" | bc -l)
"$bin" -q -c "$work/draft.yaml" check >/dev/null || { echo "the drafted config's checks do not pass" >&2; exit 1; }
printf 'discover_wall_s %.2f (beyond the window %.2f)\n' "$wall" "$beyond"
if (( $(echo "$beyond < 5" | bc -l) )); then echo "PASS discover"; else echo "FAIL discover (target < 5 s)"; fi

echo "== 3. svg of a 500-component map"
"$target/examples/map_bench" 500
