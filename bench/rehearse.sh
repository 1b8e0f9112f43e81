#!/usr/bin/env bash
# Benchmark of `fearless rehearse` (issue #18): web-1's role rebuilt on a fresh Debian 13
# lab host from the cached trixie root — wall time per run, end to end (the role read and
# its snapshot, the host brought up, apt, the declared files, the services started, the
# scan for hard-coded paths, the checks, the host removed), and where it goes (the report's
# own timings). Two roles: the whole of web-1's (it breaks: acme-web's
# `#!/usr/bin/python3.11`; its start waits out the package's own 15 s readiness timeout
# twice, in its postinst and when fearless starts it) and web-1's without checkout (it
# works). Target: < 60 s. No peer: nothing else rehearses a role; the breakdown says how
# much of the time is the package manager and the services themselves.
# Needs root; brings up its own 2-host lab (no other lab may be up). The trixie root is
# built first if it is not cached (about a minute; not timed).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
profile=${PROFILE:-release}

for a in 9 11 12; do
  if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.$a/22" 2>/dev/null; then
    echo "bench/rehearse.sh: something listens on 127.0.0.$a:22: a lab is up already (one per machine)." >&2
    exit 2
  fi
done

cargo build -q --profile "$profile" -p fearless-cli
case $profile in dev) out=debug ;; *) out=$profile ;; esac
bin="${CARGO_TARGET_DIR:-target}/$out/fearless"
work=$(mktemp -d /var/tmp/fearless-bench-rehearse.XXXXXX)
trap '"$bin" -q lab down --dir "$work/lab" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

"$bin" -q lab up --hosts 2 --dir "$work/lab" >/dev/null
c="$work/lab/fearless.yaml"
# The trixie root, cached once (not timed).
"$bin" -q -c "$c" rehearse --role web-1 --release trixie --components orders-api >/dev/null

now() { date +%s.%N; }
run() { # case exit-expected args…
  local name=$1 want=$2
  shift 2
  for i in $(seq "$runs"); do
    local t0 t1 rc=0
    t0=$(now)
    "$bin" -q -c "$c" --format json rehearse --role web-1 --release trixie "$@" >"$work/$name-$i.json" || rc=$?
    t1=$(now)
    if [ "$rc" != "$want" ]; then
      echo "bench/rehearse.sh: $name run $i exited $rc, not $want" >&2
      exit 1
    fi
    echo "$name $(echo "$t1 - $t0" | bc -l) $work/$name-$i.json" >>"$work/runs"
  done
}
run breaks 1
run works 0 --components orders-api

python3 - "$work/runs" "$runs" <<'PY'
import json, statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
out = []
for case in ("breaks", "works"):
    walls = [float(r[1]) for r in rows if r[0] == case]
    reports = [json.load(open(r[2])) for r in rows if r[0] == case]
    t = {k: statistics.median(r["timings"][k] for r in reports) / 1000 for k in
         ("prepare_ms", "install_ms", "start_ms", "checks_ms")}
    wall = statistics.median(walls)
    out.append(
        f"{case}: {wall:.1f} s (min {min(walls):.1f}, max {max(walls):.1f}; prepare {t['prepare_ms']:.1f}, "
        f"install {t['install_ms']:.1f}, files+services+scan {t['start_ms']:.1f}, checks {t['checks_ms']:.1f}; "
        f"verdict {reports[0]['verdict']}, {len(reports[0]['findings'])} finding(s))"
    )
print(f"rehearse web-1 on a fresh Debian 13 lab host (cached root), median of {sys.argv[2]}: " + "; ".join(out) + "; target < 60 s")
PY
