#!/usr/bin/env bash
# Benchmark of `fearless patch` (issue: patch). The lab's `routine` batch (9 updates, 1.0 → 1.1)
# rolled out to 4 lab hosts in waves 1,25%,100% with bake 0 s, end to end, against a peer run
# in the same invocation: an Ansible playbook doing the same (bench/patch-playbook.yml:
# serial waves 1, 25%, 100%, apt with the same versions and a cache update, the same HTTP
# checks from the controller and the same host-local checks, a failure stops the play;
# ansible-core from PyPI, pipelining and ControlPersist on, forks = hosts, host keys checked,
# no fact gathering). fearless runs with `ssh.persist` (its ControlPersist).
# Every run gets a fresh lab (up, publish routine) so both tools start from 1.0; the change
# record (new, submit, approve, schedule) and one warm-up command (fearless: `hosts ping`,
# Ansible: `-m ping`, so both start on open masters) are untimed. Then RUNS (3) runs of each,
# alternately; the figure is median(ansible) / median(fearless). Target: at least 3x.
# fearless' own overhead: the wall time minus its package-manager time, taken from its
# journal (per host, the `detail.package_manager_ms` of `rollout.host.applied`: simulate or the
# preflight's plan, install, the maintainer scripts' restarts, the reads after it — never
# more than `rollout.host.applying` → `rollout.host.applied`; hosts of a wave run in
# parallel, so a wave counts its slowest host) and the preflight's package-manager time
# stored with the rollout (metadata refresh and pending list, then the manifest's
# simulation and the download of the versions it replaces: the slowest host of each
# phase). Target: under 10% of the total.
# The results are checked: both tools exit 0, fearless verifies every host, Ansible changes
# every host and fails none, and afterwards every host has all 9 packages at 1.1. A wrong
# result exits non-zero; a missed target only prints FAIL.
# Needs root (it brings up its own 4-host labs, one at a time, so no other lab may be up) and
# builds release. Ansible is installed once into a venv under /var/cache/fearless.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-3}
venv=${BENCH_VENV:-/var/cache/fearless/bench-venv}
hosts=(web-1 web-2 web-3 web-4)
waves=1,25%,100%
playbook=$PWD/bench/patch-playbook.yml

# Only one lab may run on a machine: its hosts take 127.0.0.11-14 port 22 (and 8080).
for a in 11 12 13 14; do
  for port in 22 8080; do
    if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.$a/$port" 2>/dev/null; then
      echo "bench/patch.sh: something listens on 127.0.0.$a:$port: a lab is up already (one per machine)." >&2
      echo "Take it down (fearless lab down --dir DIR): this benchmark resets its own lab between runs." >&2
      exit 2
    fi
  done
done

cargo build -q --release -p fearless-cli
bin="${CARGO_TARGET_DIR:-target}/release/fearless"
work=$(mktemp -d)
an="$work/ansible"
mkdir -p "$an/cp" "$an/home" "$an/tmp"
lab=""   # the lab that is up (or being brought up), if any
# Close the ControlPersist masters Ansible opened (their sockets are all in $an/cp).
closemasters() {
  [ -n "$lab" ] || return 0
  for s in "$an"/cp/*; do
    [ -S "$s" ] || continue
    ssh -F "$lab/ssh_config" -o ControlPath="$s" -O exit web-1 >/dev/null 2>&1 || true
  done
}
# fearless' persistent masters end with the lab's sshd (down stops it).
labdown() {
  [ -n "$lab" ] || return 0
  closemasters
  "$bin" -q lab down --dir "$lab" > /dev/null 2>&1 || true
  lab=""
}
trap 'labdown; rm -rf "$work"' EXIT
now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }

# ---- Ansible ---------------------------------------------------------------------------
if [ ! -x "$venv/bin/ansible" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'ansible-core<2.23'   # 2.23 drops `-o` (oneline, bench/packages.sh)
fi
anver=$("$venv/bin/python3" -c 'from ansible.release import __version__; print(__version__)')

# ---- Lab -------------------------------------------------------------------------------
# A fresh lab (new overlays, new store) in $work/NAME, with the routine batch published and
# fearless' ssh masters kept 60 s like Ansible's ControlPersist.
labup() {
  lab="$work/$1"   # set before `up`, so a half-built lab is taken down too
  "$bin" -q lab up --hosts 4 --dir "$lab" > /dev/null
  sed -i 's/^  ssh: { config: ssh_config }$/  ssh: { config: ssh_config, persist: 60s }/' "$lab/fearless.yaml"
  grep -q 'persist: 60s' "$lab/fearless.yaml" || { echo "cannot enable ssh persist in $lab/fearless.yaml" >&2; exit 2; }
  "$bin" -q lab publish routine --dir "$lab" > /dev/null
}
# Untimed: the package versions on every host afterwards (checked with the results).
after() { "$bin" -c "$lab/fearless.yaml" packages --format json > "$1" 2> "$1.err" || echo $? > "$1.rc"; }

fearless_round() {
  local out="$work/fl-$1" F num t0 t1 rollout
  labup "lab-fl-$1"
  F=("$bin" -c "$lab/fearless.yaml")
  num=$("${F[@]}" --as alice change new --title routine --hosts 'web-*' --component orders-api --format json |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["number"])')
  "${F[@]}" --as alice change submit "CHG-$num" > /dev/null
  "${F[@]}" --as bob change approve "CHG-$num" > /dev/null
  "${F[@]}" --as alice change schedule "CHG-$num" > /dev/null
  "${F[@]}" hosts ping > /dev/null   # warm-up: opens the persistent masters
  t0=$(now)
  "${F[@]}" --as alice patch --change "CHG-$num" --waves "$waves" --bake 0s --format json \
    > "$out.json" 2> "$out.err" || echo $? > "$out.rc"
  t1=$(now)
  echo "$t0 $t1" > "$out.time"
  rollout=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("rollout") or "R-1")' "$out.json" 2>/dev/null || echo R-1)
  "${F[@]}" journal --subject "$rollout" --format json > "$out.journal.json" 2> "$out.journal.err" || true
  "${F[@]}" rollout show "$rollout" --format json > "$out.rollout.json" 2> "$out.rollout.err" || true
  after "$out.after.json"
  labdown
}

ansible_round() {
  local out="$work/an-$1" h addr t0 t1
  labup "lab-an-$1"
  {
    echo "[web]"
    for h in "${hosts[@]}"; do
      addr=$(sed -n "s/^    $h: { address: \([0-9.]*\),.*/\1/p" "$lab/fearless.yaml")
      [ -n "$addr" ] || { echo "no address for $h in $lab/fearless.yaml" >&2; exit 2; }
      echo "$h ansible_host=$addr"
    done
    echo "[web:vars]"
    echo "ansible_user=root"
    echo "ansible_python_interpreter=/usr/bin/python3"
    echo "[controller]"
    echo "localhost ansible_connection=local ansible_python_interpreter=$venv/bin/python3"
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
  local envs=(env ANSIBLE_CONFIG="$an/ansible.cfg" ANSIBLE_HOME="$an/home" LC_ALL=C.UTF-8 ANSIBLE_NOCOLOR=1)
  # Warm-up: opens the ControlPersist masters.
  "${envs[@]}" "$venv/bin/ansible" web -m ping -o > "$out.warm" 2>&1 ||
    { echo "ansible warm-up failed:" >&2; cat "$out.warm" >&2; exit 1; }
  t0=$(now)
  "${envs[@]}" "$venv/bin/ansible-playbook" -i "$an/hosts.ini" "$playbook" \
    > "$out.txt" 2> "$out.err" || echo $? > "$out.rc"
  t1=$(now)
  echo "$t0 $t1" > "$out.time"
  after "$out.after.json"
  labdown
}

# ---- Runs ------------------------------------------------------------------------------
for i in $(seq "$runs"); do
  fearless_round "$i"
  ansible_round "$i"
done

# ---- Results ---------------------------------------------------------------------------
python3 - "$work" "$runs" "$anver" "$waves" "${hosts[@]}" <<'PY'
import json, os, re, statistics, sys
from datetime import datetime
work, runs, anver, waves, hosts = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
manifest = {n: "1.1" for n in ("acme-agent acme-api acme-certs acme-cli acme-docs acme-locale "
                               "acme-motd acme-tools acme-web").split()}
fail = []

def rc(path):
    return open(path + ".rc").read().strip() if os.path.exists(path + ".rc") else "0"

def err(path):
    return open(path + ".err").read().strip()[-500:] if os.path.exists(path + ".err") else ""

def wall(prefix):
    t0, t1 = map(float, open(prefix + ".time").read().split())
    return t0, t1

def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()

def check_after(tag, path):
    """Every host has every package of the batch at 1.1."""
    if rc(path) != "0":
        fail.append(f"{tag}: fearless packages exited {rc(path)}: {err(path)}")
        return
    doc = json.load(open(path))
    seen = set()
    for h in doc.get("hosts", []):
        seen.add(h["host"])
        if h.get("error") is not None:
            fail.append(f"{tag}: packages afterwards: {h['host']}: {h['error']}")
            continue
        have = {p["name"]: p["version"] for p in h["packages"]}
        wrong = {n: have.get(n) for n, v in manifest.items() if have.get(n) != v}
        if wrong:
            fail.append(f"{tag}: {h['host']} afterwards not at 1.1: {wrong}")
    if sorted(seen) != sorted(hosts):
        fail.append(f"{tag}: packages afterwards answered for {sorted(seen)}, not {hosts}")

def fearless(i):
    p = f"{work}/fl-{i}"
    tag = f"fearless run {i}"
    t0, t1 = wall(p)
    if rc(p) != "0":
        fail.append(f"{tag}: patch exited {rc(p)}: {err(p)}")
    try:
        doc = json.load(open(p + ".json"))
    except ValueError as e:
        fail.append(f"{tag}: not JSON ({e})")
        return None
    if doc.get("schema") != "fearless.rollout/v1" or doc.get("state") != "completed":
        fail.append(f"{tag}: schema {doc.get('schema')!r}, state {doc.get('state')!r}")
    res = doc.get("result") or {}
    wave_of = {h["host"]: h["wave"] for h in res.get("hosts", [])}
    bad = {h["host"]: h["state"] for h in res.get("hosts", []) if h.get("state") != "verified"}
    if bad:
        fail.append(f"{tag}: hosts not verified: {bad}")
    if sorted(wave_of) != sorted(hosts):
        fail.append(f"{tag}: rollout covered {sorted(wave_of)}, not {hosts}")
    check_after(tag, p + ".after.json")
    # Package-manager time from the journal; the rest of the wall time is fearless' own.
    try:
        entries = json.load(open(p + ".journal.json"))["entries"]
    except (ValueError, KeyError, OSError) as e:
        fail.append(f"{tag}: journal: {e} {err(p + '.journal')}")
        return None
    first = {}   # (kind, host) -> time of the first such entry
    last = {}
    pm_ms = {}   # host -> package-manager time of its apply, as fearless measured it
    started = None
    for e in entries:
        t = ts(e["time"])
        if e["kind"] == "rollout.started" and started is None:
            started = t
        payload = e.get("payload") or {}
        host = payload.get("host")
        if host:
            first.setdefault((e["kind"], host), t)
            last[(e["kind"], host)] = t
            detail = payload.get("detail") or {}
            if e["kind"] == "rollout.host.applied" and "package_manager_ms" in detail:
                pm_ms[host] = detail["package_manager_ms"] / 1000
    if started is None:
        fail.append(f"{tag}: no rollout.started in the journal")
        return None
    total = t1 - t0
    apply = between = verify = 0.0
    begin = started
    for w in sorted(set(wave_of.values())):
        members = [h for h, x in wave_of.items() if x == w]
        try:
            a0 = {h: first[("rollout.host.applying", h)] for h in members}
            a1 = {h: last[("rollout.host.applied", h)] for h in members}
            done = max(last[("rollout.host.verified", h)] for h in members)
        except KeyError as e:
            fail.append(f"{tag}: wave {w}: journal lacks {e}")
            return None
        # The package manager's own time when fearless journaled it (the host's checks
        # run beside its last reads, so `applied` can come later than the package
        # manager's end), else applying -> applied.
        wave_apply = max(min(pm_ms.get(h, a1[h] - a0[h]), a1[h] - a0[h]) for h in members)
        apply += wave_apply
        between += min(a0.values()) - begin      # snapshots (+ the previous wave's checks)
        verify += done - min(a0.values()) - wave_apply   # verification (+ start skew)
        begin = done
    # The preflight's package-manager time (apt-get update, pending list, simulation of the
    # manifest on every host), as fearless measured it and stored with the rollout.
    try:
        timings = json.load(open(p + ".rollout.json"))["record"]["timings"]
        pre_pm = timings["preflight_package_manager_ms"] / 1000
    except (ValueError, KeyError, OSError) as e:
        fail.append(f"{tag}: rollout timings: {e}")
        return None
    apply += pre_pm
    return {"total": total, "apply": apply, "overhead": total - apply, "pre_pm": pre_pm,
            "preflight": started - t0, "between": between, "verify": verify, "finish": t1 - begin}

def ansible(i):
    p = f"{work}/an-{i}"
    tag = f"ansible run {i}"
    t0, t1 = wall(p)
    out = open(p + ".txt").read()
    if rc(p) != "0":
        fail.append(f"{tag}: ansible-playbook exited {rc(p)}: {err(p)} {out[-800:]}")
    recap = {}
    for m in re.finditer(r"^(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", out, re.M):
        recap[m.group(1)] = tuple(map(int, m.group(2, 3, 4, 5)))
    for h in hosts:
        ok, changed, unreachable, failed = recap.get(h, (0, 0, 0, 0))
        if h not in recap or changed < 1 or unreachable or failed:
            fail.append(f"{tag}: {h}: recap {recap.get(h)} (want changed >= 1, none failed)")
    check_after(tag, p + ".after.json")
    return t1 - t0

fl, an = [], []
for i in range(1, runs + 1):
    f, a = fearless(i), ansible(i)
    if f:
        fl.append(f)
    an.append(a)
if fail:
    print("patch: results wrong or a tool failed:", *fail[:20], sep="\n  ", file=sys.stderr)
    sys.exit(1)

med = lambda k: statistics.median(r[k] for r in fl)
ft, at = med("total"), statistics.median(an)
ratio = at / ft
pct = [100 * r["overhead"] / r["total"] for r in fl]
opct = statistics.median(pct)
print(f"patch (routine batch, 9 updates on {len(hosts)} lab hosts, waves {waves}, bake 0 s; median of "
      f"{runs} alternate runs, a fresh lab each): fearless {ft:.3f} s; ansible-core {anver} playbook "
      f"{at:.3f} s; ratio ansible/fearless = {ratio:.1f}x")
print("  fearless runs: " + " ".join(f"{r['total']:.3f}" for r in fl) + " s")
print("  ansible runs:  " + " ".join(f"{t:.3f}" for t in an) + " s")
print(f"target: >= 3x  {'PASS' if ratio >= 3 else 'FAIL'}")
print(f"fearless overhead (wall time - package-manager time: each wave's slowest host from the "
      f"journal, plus the preflight's slowest host as recorded with the rollout): "
      f"{med('overhead'):.3f} s = {opct:.1f}% of the total "
      f"(package manager {med('apply'):.3f} s, of which preflight {med('pre_pm'):.3f} s)")
print("  overhead runs: " + " ".join(f"{r['overhead']:.3f} s ({p:.1f}%)" for r, p in zip(fl, pct)))
print(f"  where (medians): before rollout.started (preflight: reach, apt-get update, free space; "
      f"baseline checks; manifest; its package-manager part included) {med('preflight'):.3f} s; snapshots and post-wave checks "
      f"{med('between'):.3f} s; host verification (what did not overlap the package reads) {med('verify'):.3f} s; last wave's checks, "
      f"completion and exit {med('finish'):.3f} s")
print(f"target: < 10%  {'PASS' if opct < 10 else 'FAIL'}")
PY
