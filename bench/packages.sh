#!/usr/bin/env bash
# Benchmark of `fearless packages` (issue: packages). The package inventory of all lab
# hosts in one command, against a peer run in the same invocation over the same SSH:
#   `ansible all -m package_facts -o` (ansible-core from PyPI; ControlPersist and
#   pipelining on, forks = hosts, host keys checked, no fact gathering).
# Each tool is warmed up once (first connection), then both run N times alternately; the
# figure is median(ansible) / median(fearless). Target: at least 5x.
# The results are checked: every host answers in both, and both see the same installed
# packages (name and version) on each host, libacme among them. A wrong result exits
# non-zero; a missed target only prints FAIL.
# Needs root (it brings up its own 4-host lab, so no other lab may be up; set
# BENCH_LAB=DIR to use the running lab in DIR instead, its web-1..web-4 only, left up) and
# builds release. Ansible is installed once into a venv under /var/cache/fearless.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
venv=${BENCH_VENV:-/var/cache/fearless/bench-venv}
hosts=(web-1 web-2 web-3 web-4)

# Only one lab may run on a machine: its hosts take 127.0.0.11-14 port 22 (and 8080).
if [ -z "${BENCH_LAB:-}" ]; then
  for a in 11 12 13 14; do
    for port in 22 8080; do
      if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.$a/$port" 2>/dev/null; then
        echo "bench/packages.sh: something listens on 127.0.0.$a:$port: a lab is up already (one per machine)." >&2
        echo "Take it down (fearless lab down --dir DIR), or run with BENCH_LAB=DIR to measure on it." >&2
        exit 2
      fi
    done
  done
fi

cargo build -q --release -p fearless-cli
bin="${CARGO_TARGET_DIR:-target}/release/fearless"
work=$(mktemp -d)
an="$work/ansible"
mkdir -p "$an/cp" "$an/home" "$an/tmp"
# Close the ControlPersist masters Ansible opened (their sockets are all in $an/cp).
closemasters() {
  for s in "$an"/cp/*; do
    [ -S "$s" ] || continue
    ssh -F "$lab/ssh_config" -o ControlPath="$s" -O exit web-1 >/dev/null 2>&1 || true
  done
}
cleanup() { closemasters; rm -rf "$work"; }
trap cleanup EXIT
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }
fmt() { printf '%.3f' "$1"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# ---- Ansible ---------------------------------------------------------------------------
if [ ! -x "$venv/bin/ansible" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'ansible-core<2.23'   # 2.23 drops `-o` (oneline)
fi
anver=$("$venv/bin/python3" -c 'from ansible.release import __version__; print(__version__)')

# ---- Lab -------------------------------------------------------------------------------
if [ -n "${BENCH_LAB:-}" ]; then
  lab=$(cd "$BENCH_LAB" && pwd)
  fl_args=(-c "$lab/fearless.yaml" packages --format json --hosts 'web-*')
else
  lab="$work/lab"
  # Armed before `up`, so a half-built lab is taken down too (down only touches $lab).
  trap 'closemasters; "$bin" -q lab down --dir "$lab" > /dev/null 2>&1 || true; rm -rf "$work"' EXIT
  "$bin" -q lab up --hosts 4 --dir "$lab" > /dev/null
  fl_args=(-c "$lab/fearless.yaml" packages --format json)
fi

# Same hosts, same sshd, same ssh_config (key, known_hosts, strict host key checking).
{
  echo "[all]"
  for h in "${hosts[@]}"; do echo "$h"; done
  echo "[all:vars]"
  echo "ansible_user=root"
  echo "ansible_python_interpreter=/usr/bin/python3"
} > "$an/hosts.ini"
cat > "$an/ansible.cfg" <<EOF
[defaults]
inventory = $an/hosts.ini
forks = ${#hosts[@]}
gathering = explicit
host_key_checking = True
local_tmp = $an/tmp
retry_files_enabled = False
deprecation_warnings = False
[ssh_connection]
pipelining = True
ssh_args = -F $lab/ssh_config -o ControlMaster=auto -o ControlPersist=60s
control_path_dir = $an/cp
control_path = %(directory)s/%%C
EOF
ansible_run() {
  # Exit status is checked with the results (a failed host must not stop the script here).
  env ANSIBLE_CONFIG="$an/ansible.cfg" ANSIBLE_HOME="$an/home" LC_ALL=C.UTF-8 \
    "$venv/bin/ansible" all -m package_facts -a manager=apt -o > "$1" 2> "$1.err" || echo $? > "$1.rc"
}
# fearless with the same connection reuse Ansible gets from ControlPersist:
# `inventory.ssh.persist` keeps its masters for the next command (closed by their idle timer,
# or when the lab's sshd goes down).
sed 's/^  ssh: { config: ssh_config }$/  ssh: { config: ssh_config, persist: 60s }/' \
  "$lab/fearless.yaml" > "$lab/bench-persist.yaml"
grep -q 'persist: 60s' "$lab/bench-persist.yaml" || { echo "cannot enable ssh persist in $lab/fearless.yaml" >&2; exit 2; }
fresh_args=("${fl_args[@]}")
fl_args=(-c "$lab/bench-persist.yaml" "${fl_args[@]:2}")
fearless_run() { "$bin" "${fl_args[@]}" > "$1" 2> "$1.err" || echo $? > "$1.rc"; }
# For reference: the default, a new connection per host on every run (checked too).
fresh_run() { "$bin" "${fresh_args[@]}" > "$1" 2> "$1.err" || echo $? > "$1.rc"; }

# ---- Runs ------------------------------------------------------------------------------
fearless_run "$work/fl-warm.json"
ansible_run "$work/an-warm.txt"
fl=(); ans=(); fresh=()
for i in $(seq "$runs"); do
  t0=$(now); fearless_run "$work/fl-$i.json"; t1=$(now)
  a0=$(now); ansible_run "$work/an-$i.txt"; a1=$(now)
  r0=$(now); fresh_run "$work/fr-$i.json"; r1=$(now)
  fl+=("$(secs "$t0" "$t1")"); ans+=("$(secs "$a0" "$a1")"); fresh+=("$(secs "$r0" "$r1")")
done
closemasters

# ---- Results ---------------------------------------------------------------------------
python3 - "$work" "$runs" "${hosts[@]}" <<'PY'
import json, os, sys
work, runs, hosts = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
fail = []

def read(path):
    rc = open(path + ".rc").read().strip() if os.path.exists(path + ".rc") else "0"
    return open(path).read(), rc, open(path + ".err").read().strip()

def fearless(path):
    out, rc, err = read(path)
    if rc != "0":
        fail.append(f"{os.path.basename(path)}: fearless exited {rc}: {err[-500:]}")
    try:
        doc = json.loads(out)
    except ValueError as e:
        fail.append(f"{os.path.basename(path)}: not JSON ({e}): {out[:200]!r}")
        return {}
    if doc.get("schema") != "fearless.packages/v1":
        fail.append(f"{os.path.basename(path)}: schema {doc.get('schema')!r}")
    got = {}
    for h in doc.get("hosts", []):
        if h.get("error") is not None:
            fail.append(f"{os.path.basename(path)}: {h.get('host')}: {h['error']}")
            continue
        got[h["host"]] = {(p["name"], p["version"]) for p in h["packages"]}
    return got

def ansible(path):
    out, rc, err = read(path)
    if rc != "0":
        fail.append(f"{os.path.basename(path)}: ansible exited {rc}: {err[-500:]}")
    got = {}
    for line in out.splitlines():
        host, _, rest = line.partition(" | ")
        status, _, body = rest.partition(" => ")
        if status != "SUCCESS":
            fail.append(f"{os.path.basename(path)}: {host}: {line[:500]}")
            continue
        pk = json.loads(body)["ansible_facts"]["packages"]
        got[host] = {(name, v["version"]) for name, vs in pk.items() for v in vs}
    return got

for i in ["warm"] + [str(i) for i in range(1, runs + 1)]:
    f, a = fearless(f"{work}/fl-{i}.json"), ansible(f"{work}/an-{i}.txt")
    if i != "warm" and fearless(f"{work}/fr-{i}.json") != f:
        fail.append(f"run {i}: fearless without persist saw other packages")
    for tool, got in (("fearless", f), ("ansible", a)):
        if sorted(got) != sorted(hosts):
            fail.append(f"run {i}: {tool} answered for {sorted(got)}, not {hosts}")
    for h in hosts:
        if h not in f or h not in a:
            continue
        if not any(n == "libacme" for n, _ in f[h]):
            fail.append(f"run {i}: {h}: fearless does not see libacme")
        if not any(n == "libacme" for n, _ in a[h]):
            fail.append(f"run {i}: {h}: ansible does not see libacme")
        if f[h] != a[h]:
            fail.append(f"run {i}: {h}: fearless {len(f[h])} packages, ansible {len(a[h])}; "
                        f"only fearless: {sorted(f[h] - a[h])[:5]}, only ansible: {sorted(a[h] - f[h])[:5]}")
    if i == "warm" and not fail:
        counts = ", ".join(f"{h} {len(f[h])}" for h in hosts)
        print(f"packages: {counts} (fearless = ansible on every host, libacme on all)")
if fail:
    print("packages: results differ or failed:", *fail[:20], sep="\n  ", file=sys.stderr)
    sys.exit(1)
PY

fm=$(median "${fl[@]}"); am=$(median "${ans[@]}")
ratio=$(echo "$am / $fm" | bc -l)
verdict=FAIL; [ "$(echo "$ratio >= 5" | bc -l)" = 1 ] && verdict=PASS
echo "packages (${#hosts[@]} lab hosts, median of $runs alternate runs after one warm-up each): fearless $(fmt "$fm") s; ansible-core $anver package_facts $(fmt "$am") s; ratio ansible/fearless = $(printf '%.1f' "$ratio")x"
echo "  fearless runs: $(for t in "${fl[@]}"; do printf '%s ' "$(fmt "$t")"; done)s"
echo "  ansible runs:  $(for t in "${ans[@]}"; do printf '%s ' "$(fmt "$t")"; done)s"
rm_=$(median "${fresh[@]}")
echo "  for reference, fearless without ssh persist (a new connection per host each run): $(fmt "$rm_") s, ratio $(printf '%.1f' "$(echo "$am / $rm_" | bc -l)")x"
echo "target: >= 5x  $verdict"
