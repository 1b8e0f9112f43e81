#!/usr/bin/env bash
# Benchmark of `fearless check` (issue: foundation). Prints wall times and checks/second,
# each against a peer run in the same invocation:
#   1. 1,000 HTTP checks on loopback   vs  curl --parallel fetching the same 1,000 URLs
#   2. 200 host-local checks over SSH  vs  200 plain `ssh` round trips on one open master
# Targets: (1) under 0.5 s; (2) bounded by one round trip per check.
# Needs root (it brings up its own 4-host lab, so no other lab may be up) and builds release.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build -q --release -p fearless-cli
bin="${CARGO_TARGET_DIR:-target}/release/fearless"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }
fmt() { printf '%.3f' "$1"; }

# ---- 1. HTTP -------------------------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 bench/httpd.py "$port" & pids+=($!)
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
{
  echo "components:"
  echo "  site:"
  echo "    external: true"
  echo "    checks:"
  for i in $(seq 1000); do echo "      - { name: c$i, http: { url: \"http://127.0.0.1:$port/health\", body: ok } }"; done
} > "$work/http.yaml"
for i in $(seq 1000); do echo "url = \"http://127.0.0.1:$port/health\""; echo "output = /dev/null"; done > "$work/curl.cfg"

"$bin" check -q -c "$work/http.yaml" --format json > /dev/null   # warm-up
t0=$(now); "$bin" check -q -c "$work/http.yaml" --format json > "$work/http.json"; t1=$(now)
python3 - "$work/http.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
assert s["pass"] == 1000, s
PY
c0=$(now); curl -s --no-progress-meter --parallel --parallel-max 64 -K "$work/curl.cfg"; c1=$(now)
fl=$(secs "$t0" "$t1"); cu=$(secs "$c0" "$c1")
echo "http: fearless 1000 checks in $(fmt "$fl") s ($(fmt "$(echo "1000 / $fl" | bc -l)") checks/s); curl --parallel 1000 requests in $(fmt "$cu") s; ratio fearless/curl = $(fmt "$(echo "$fl / $cu" | bc -l)")"

# ---- 2. SSH --------------------------------------------------------------------------
# Against a 4-host lab (real Debian roots, one sshd each) in a private dir; it is taken
# down at the end. Each check is a `command` check (`true`): one round trip per check.
lab="$work/lab"
"$bin" -q lab up --hosts 4 --dir "$lab" > /dev/null
labdown() { "$bin" -q lab down --dir "$lab" > /dev/null || true; }
trap 'labdown; cleanup' EXIT
{
  echo "inventory:"
  echo "  ssh: { config: $lab/ssh_config }"
  echo "  hosts:"
  for h in 1 2 3 4; do echo "    web-$h: { address: 127.0.0.1$h }"; done
  echo "components:"
  echo "  box:"
  echo "    runs_on: all"
  echo "    checks:"
  for i in $(seq 50); do echo "      - { name: c$i, command: { run: [\"true\"] } }"; done
} > "$work/ssh.yaml"
"$bin" check -q -c "$work/ssh.yaml" --format json > /dev/null   # warm-up (page cache)
t0=$(now); "$bin" check -q -c "$work/ssh.yaml" --format json > "$work/ssh.json"; t1=$(now)
python3 - "$work/ssh.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["summary"]
assert s["pass"] == 200, s
PY
# Peer: what fearless does, by hand — a master per host, then 50 commands on each, 8 at a
# time per master (fearless stays below sshd's MaxSessions the same way).
for h in 1 2 3 4; do ssh -F "$lab/ssh_config" -o ControlMaster=yes -o ControlPath="$work/ctl$h" -o ControlPersist=60 -fN "web-$h" >/dev/null 2>&1; done
p0=$(now)
peers=()
for h in 1 2 3 4; do
  seq 50 | xargs -P 8 -I{} ssh -F "$lab/ssh_config" -o ControlPath="$work/ctl$h" "web-$h" true &
  peers+=($!)
done
wait "${peers[@]}"
p1=$(now)
for h in 1 2 3 4; do ssh -F "$lab/ssh_config" -o ControlPath="$work/ctl$h" -O exit "web-$h" 2>/dev/null || true; done
fl=$(secs "$t0" "$t1"); pe=$(secs "$p0" "$p1")
echo "ssh: fearless 200 host checks on 4 lab hosts (connects included) in $(fmt "$fl") s ($(fmt "$(echo "200 / $fl" | bc -l)") checks/s); 200 ssh commands on 4 open masters in $(fmt "$pe") s; ratio fearless/ssh = $(fmt "$(echo "$fl / $pe" | bc -l)")"
