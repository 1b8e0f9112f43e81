#!/usr/bin/env bash
# Benchmark of the `ssm` transport (issue #21): the lab's whole test plan (32 checks, host-local
# and controller) over 4 lab hosts, through the test kit's local SSM Run Command endpoint
# (scripts run inside each lab host) vs over ssh, in the same invocation: median wall time of
# ROUNDS rounds each, the ratio, and the SSM API calls a round makes per host (counted from
# fearless' own debug log of every call; goal: at most 2 per host in steady state).
# Needs root (it brings up its own 4-host lab, so no other lab may be up) and builds release.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${ROUNDS:-7}
cargo build -q --release -p fearless-cli --bin fearless
cargo build -q --release -p fearless-testkit --bin fearless-ssm-endpoint
bin="${CARGO_TARGET_DIR:-target}/release/fearless"
endpoint_bin="${CARGO_TARGET_DIR:-target}/release/fearless-ssm-endpoint"
work=$(mktemp -d)
lab="$work/lab"
ep_pid=
cleanup() {
  [ -n "$ep_pid" ] && kill "$ep_pid" 2>/dev/null || true
  "$bin" -q lab down --dir "$lab" > /dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench
unset AWS_SESSION_TOKEN AWS_PROFILE

"$bin" -q lab up --hosts 4 --dir "$lab" > /dev/null
args=()
while read -r name pid; do args+=(--instance "$name=$pid"); done < <(
  "$bin" lab status --dir "$lab" --format json |
    python3 -c 'import json,sys; [print(h["name"], h["init_pid"]) for h in json.load(sys.stdin)["hosts"]]')
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$endpoint_bin" --listen "127.0.0.1:$port" --region eu-west-1 "${args[@]}" > "$work/endpoint.out" &
ep_pid=$!
for _ in $(seq 100); do [ "$(wc -l < "$work/endpoint.out")" -gt 4 ] && break; sleep 0.05; done
python3 - "$lab/fearless.yaml" "$work/endpoint.out" "$lab/ssm.yaml" <<'PY'
import re, sys
src, ep, dst = sys.argv[1:]
lines = open(ep).read().split("\n")
url, ids = lines[0], dict(reversed(l.split()) for l in lines[1:] if l.strip())
text = open(src).read()
text = text.replace("  defaults: { user: root, port: 22, transport: ssh }",
    "  defaults: { user: root, port: 22, transport: ssm, region: eu-west-1 }\n"
    f"  ssm: {{ endpoint_url: \"{url}\" }}")
for name, iid in ids.items():
    text = re.sub(rf"(\n    {re.escape(name)}: \{{ )", rf"\1instance: {iid}, ", text)
open(dst, "w").write(text)
PY

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
round() { # CONFIG → seconds of one `check` round
  local t0 t1
  t0=$(date +%s.%N); "$bin" -q -c "$1" check --format json > "$work/out.json"; t1=$(date +%s.%N)
  python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; assert s["pass"]==s["checks"]>0, s' "$work/out.json"
  echo "$t1 - $t0" | bc -l
}
round "$lab/fearless.yaml" > /dev/null; round "$lab/ssm.yaml" > /dev/null   # warm-up
ssh_times=(); ssm_times=()
for _ in $(seq "$rounds"); do
  ssh_times+=("$(round "$lab/fearless.yaml")")
  ssm_times+=("$(round "$lab/ssm.yaml")")
done
ssh_med=$(printf '%s\n' "${ssh_times[@]}" | median)
ssm_med=$(printf '%s\n' "${ssm_times[@]}" | median)

# API calls of one round, by operation, from fearless' debug log.
FEARLESS_LOG=fearless_aws=debug "$bin" -c "$lab/ssm.yaml" check --format json > /dev/null 2> "$work/calls.log"
python3 - "$work/calls.log" <<'PY'
import re, sys, collections
ops = collections.Counter(m.group(1) for m in re.finditer(r"operation=\"?(\w+)", open(sys.argv[1]).read()))
total = sum(ops.values())
print("ssm API calls in one round over 4 hosts: " + ", ".join(f"{k} {v}" for k, v in sorted(ops.items()))
      + f"; total {total} = {total / 4:.2f} per host")
PY
printf 'check round (32 checks, 4 hosts), median of %s: ssh %.3f s, ssm (local endpoint) %.3f s; ratio ssm/ssh = %.2f\n' \
  "$rounds" "$ssh_med" "$ssm_med" "$(echo "$ssm_med / $ssh_med" | bc -l)"
