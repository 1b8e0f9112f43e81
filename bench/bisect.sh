#!/usr/bin/env bash
# Benchmark of `fearless bisect` (issue: incidents and RCA). One culprit (libacme 2.0, which
# breaks orders-api) among n = 4, 8, 16 and 32 packages (the rest are harmless filler
# packages from `fearless lab extras`), on one lab host, against the peer run in the same
# invocation on the same host and snapshot: testing the packages one at a time
# (`fearless bisect --one-at-a-time`, debbisect's final step: n rounds). Both move the host
# to "snapshot + the round's subset" in one package transaction, run the same check, and
# re-run a failing round's check before trusting it, through the same code.
# Reported per n: rounds (subsets tested), tests (re-runs included) and wall time of each,
# and the ratio one-at-a-time / bisect. Bound: rounds <= ceil(log2 n) + 2.
# The results are checked: both must name libacme alone and leave the host restored and
# passing; a wrong result exits non-zero, a missed bound prints FAIL.
# Needs root; brings up its own 1-host lab (no other lab may be up) and builds release.
set -euo pipefail
cd "$(dirname "$0")/.."

if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.11/22" 2>/dev/null; then
  echo "bench/bisect.sh: 127.0.0.11:22 answers: a lab is up already (one per machine); take it down first." >&2
  exit 2
fi
cargo build -q --release -p fearless-cli
bin="${CARGO_TARGET_DIR:-target}/release/fearless"
work=$(mktemp -d)
dir="$work/lab"
cleanup() { "$bin" lab down --dir "$dir" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT

"$bin" lab up --dir "$dir" --hosts 1 >/dev/null 2>&1
c="$dir/fearless.yaml"
f() { "$bin" -c "$c" --as bench -q "$@"; }
"$bin" lab publish bad-libacme --dir "$dir" >/dev/null
"$bin" lab extras 31 --dir "$dir" >/dev/null
f packages --pending >/dev/null # refresh the host's lists
snap=$(f snapshot --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

field() { python3 -c "import json,sys; d=json.load(sys.stdin)['report']; print($1)"; }

printf '%4s  %-28s  %-28s  %s\n' n "bisect: rounds/tests/seconds" "one at a time: rounds/seconds" "ratio (time)"
for n in 4 8 16 32; do
  m="$work/m$n.txt"
  { echo "libacme=2.0"; for i in $(seq 1 $((n - 1))); do printf 'acme-extra-%02d=1.0\n' "$i"; done; } >"$m"
  out_b=$(f bisect --host web-1 --snapshot "$snap" -m "$m" --check orders-api/orders --format json)
  out_l=$(f bisect --host web-1 --snapshot "$snap" -m "$m" --check orders-api/orders --one-at-a-time --format json)
  for out in "$out_b" "$out_l"; do
    verdict=$(echo "$out" | field "','.join(d['verdict'].get('packages', []))")
    restored=$(echo "$out" | field "d['restored']")
    if [[ "$verdict" != "libacme" || "$restored" != "True" ]]; then
      echo "bench/bisect.sh: n=$n: wrong result: culprits '$verdict', restored $restored" >&2
      exit 1
    fi
  done
  rb=$(echo "$out_b" | field "len(d['rounds'])")
  tb=$(echo "$out_b" | field "d['tests']")
  sb=$(echo "$out_b" | field "round(d['seconds'], 1)")
  rl=$(echo "$out_l" | field "len(d['rounds'])")
  sl=$(echo "$out_l" | field "round(d['seconds'], 1)")
  bound=$(python3 -c "import math; print(math.ceil(math.log2($n)) + 2)")
  ratio=$(python3 -c "print(f'{$sl / $sb:.1f}x')")
  verdict="ok"
  if ((rb > bound)); then verdict="FAIL: $rb rounds > bound $bound"; fi
  printf '%4s  %-28s  %-28s  %s (bound %s rounds: %s)\n' "$n" "$rb / $tb / ${sb}s" "$rl / ${sl}s" "$ratio" "$bound" "$verdict"
done

