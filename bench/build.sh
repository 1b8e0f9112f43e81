#!/usr/bin/env bash
# Cold build of the fearless binary (issue 23): for each git revision given (default: HEAD),
# in a throw-away worktree and an empty target directory, `cargo build --release -p
# fearless-cli --timings` from nothing (dependencies already downloaded), then the warm
# rebuilds a developer waits for: after a one-line change to the binary crate (a message in
# its main.rs), and after a one-line change to the engine (a message on the path of every
# package fan-out: `Fleetwide::each_of` until 24e3af5, a generic async function whose body
# every caller's crate compiled — the dashboard and the binary rebuilt it —, its boxed
# `Fleetwide::reach` since; the first occurrence of the message in fleet.rs either way). Prints
# per revision: the cold wall time, the units built and the slowest (from cargo's timing
# report), the duplicate crate versions of the normal dependency tree, whether aws-lc is
# built, and both warm rebuilds' wall times; then one line per revision to compare. Give
# two revisions (before and after a change) to measure it in one invocation:
#   bash bench/build.sh 77d9bdb HEAD
# Needs: git, cargo, python3. Takes about 10 minutes a revision on 2 cores; run it on an
# otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
revs=("$@")
((${#revs[@]})) || revs=(HEAD)
work=$(mktemp -d /var/tmp/fearless-build-bench.XXXXXX)
cleanup() {
  for wt in "$work"/src-*; do [ -d "$wt" ] && git worktree remove --force "$wt" >/dev/null 2>&1 || true; done
  rm -rf "$work"
}
trap cleanup EXIT
cargo fetch --locked -q

summary=()
for rev in "${revs[@]}"; do
  short=$(git rev-parse --short "$rev")
  src="$work/src-$short"
  target="$work/target-$short"
  git worktree add --detach -q "$src" "$rev"
  echo "== $rev ($short): cold release build of fearless-cli"
  start=$(date +%s.%N)
  (cd "$src" && CARGO_TARGET_DIR="$target" cargo build --release --locked -q -p fearless-cli --timings)
  cold=$(echo "$(date +%s.%N) - $start" | bc)
  report=$(ls "$target"/cargo-timings/cargo-timing-*.html | head -1)
  python3 - "$report" <<'PY'
import json, re, sys
html = open(sys.argv[1]).read()
units = json.loads(re.search(r"const UNIT_DATA = (\[.*?\]);\n", html, re.S).group(1))
print(f"units: {len(units)}, unit time {sum(u['duration'] for u in units):.0f} s")
slow = sorted(units, key=lambda u: -u["duration"])[:12]
print("slowest units (s):")
for u in slow:
    print(f"  {u['duration']:6.1f}  {u['name']} {u['version']}{u['target']}")
PY
  dups=$(cd "$src" && cargo tree -d -e normal --locked --offline -p fearless-cli 2>/dev/null \
    | grep -E '^[a-z]' | sed 's/ (\*)//' | sort -u | awk '{print $1}' | uniq -d | tr '\n' ' ')
  echo "crates in two versions or more: ${dups:-none}"
  has_lc=$(cd "$src" && cargo tree -i aws-lc-sys -e normal --locked --offline -p fearless-cli >/dev/null 2>&1 && echo yes || echo no)
  echo "aws-lc-sys (C crypto) built: $has_lc"
  rebuild() { # file sed-expression: the wall time of the release build after that edit
    local before
    before=$(sha256sum < "$src/$1")
    sed -i "$2" "$src/$1"
    if [ "$(sha256sum < "$src/$1")" = "$before" ]; then
      echo "bench/build.sh: '$2' changed nothing in $1 at $short" >&2
      exit 1
    fi
    local t0
    t0=$(date +%s.%N)
    # A build that fails must not pass for a fast one.
    if ! (cd "$src" && CARGO_TARGET_DIR="$target" cargo build --release --locked -q -p fearless-cli >&2); then
      echo "bench/build.sh: the rebuild after editing $1 failed" >&2
      exit 1
    fi
    echo "$(date +%s.%N) - $t0" | bc
    git -C "$src" checkout -q -- "$1"
  }
  warm=$(rebuild crates/cli/src/main.rs 's/cannot start the async runtime/cannot start the async run time/')
  warm_engine=$(rebuild crates/engine/src/fleet.rs '0,/"not in the inventory"/s//"not in this inventory"/')
  printf 'cold %.0f s; warm rebuild after a one-line change to the binary %.0f s, to the engine %.0f s\n' \
    "$cold" "$warm" "$warm_engine"
  summary+=("$(printf '%-10s cold %5.0f s   warm (binary) %4.0f s   warm (engine) %4.0f s   aws-lc %s' \
    "$short" "$cold" "$warm" "$warm_engine" "$has_lc")")
  rm -rf "$target"
done
echo "== summary (cold: release build from an empty target dir, target < 8 min; warm: a one-line change, target < 60 s)"
printf '%s\n' "${summary[@]}"
