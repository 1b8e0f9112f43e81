#!/usr/bin/env bash
# Scale (issue #22): fearless on light labs of growing size, with Ansible as the peer in the
# same invocation. For each size (SIZES, default "5 10 100 1000") a light lab of that many
# hosts is brought up (`fearless lab up --light`: real namespaces, init, sshd and dpkg
# database per host), then, each timed with its maximum RSS:
#   check     the lab's test plan: 4 checks a host (sshd process, port listening,
#             openssh-server installed — host-local — and the port answering from the
#             controller); every result must pass
#   packages  every host's package inventory; every host must answer
#   ping      `hosts ping`; every host must be reachable
#   patch     a real patch of one package (`lab extras 1`: acme-extra-01 1.0, a new
#             install) in waves 1,5%,25%,100% with no bake, through an approved change;
#             the rollout must complete with every host verified, and the journal verify
# and, for sizes up to ANSIBLE_MAX (default 100), the same checks as a playbook
# (bench/scale-playbook.yml: command, wait_for, package_facts, assert, a wait_for from the
# controller) with ansible-core (pipelining, ControlPersist, host keys checked, no fact
# gathering) at each of FORKS (default "50 200"), and the package inventory as
# `ansible all -m package_facts` at the largest of FORKS. Prints one table: wall seconds
# per step and size, the time per host, fearless' own maximum RSS and the ssh processes'
# peak total RSS apart, and Ansible's times and the ratios. Growth is checked: no step may
# take more than linear time in hosts (time per host at the largest size at most 1.5x that
# at 100, the smallest size where per-connection costs dominate). A failed result exits
# non-zero.
# Needs root, no other lab up (light hosts take 127.0.0.11 onwards), about 3 GB of free
# memory for 1,000 hosts; builds release. ANSIBLE_MAX=1000 includes Ansible on 1,000
# hosts (tens of minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
read -r -a sizes <<< "${SIZES:-5 10 100 1000}"
ansible_max=${ANSIBLE_MAX:-100}
read -r -a forks <<< "${FORKS:-50 200}"
venv=${BENCH_VENV:-/var/cache/fearless/bench-venv}

if timeout 2 bash -c 'exec 3<>/dev/tcp/127.0.0.11/22' 2>/dev/null; then
  echo "bench/scale.sh: something listens on 127.0.0.11:22: a lab is up already (one per machine)" >&2
  exit 2
fi

cargo build -q --release -p fearless-cli
bin=$(realpath "${CARGO_TARGET_DIR:-target}/release/fearless")
work=$(mktemp -d /var/tmp/fearless-scale.XXXXXX)
lab="$work/lab"
an="$work/ansible"
mkdir -p "$an/cp" "$an/home" "$an/tmp"
down() {
  for s in "$an"/cp/*; do
    [ -S "$s" ] && ssh -o ControlPath="$s" -O exit x >/dev/null 2>&1 || true
  done
  "$bin" -q lab down --dir "$lab" >/dev/null 2>&1 || true
}
trap 'down; rm -rf "$work"' EXIT

if [ ! -x "$venv/bin/ansible-playbook" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'ansible-core<2.23'
fi
anver=$("$venv/bin/python3" -c 'from ansible.release import __version__; print(__version__)')

# `measure NAME CMD…`: wall time and maximum RSS of fearless (GNU time), and the peak total
# RSS of every `ssh` process on the machine while it runs (sampled from /proc every 500 ms:
# its masters fork into the background, so they are not its descendants; the bench runs
# no other ssh client meanwhile), into $work/NAME.*
measure() {
  local name=$1
  shift
  /usr/bin/time -f '%e %M' -o "$work/$name.time" "$@" > "$work/$name.out" 2> "$work/$name.err" &
  local pid=$!
  python3 - "$pid" > "$work/$name.ssh" <<'PY' &
import os, sys, time
root = int(sys.argv[1])
peak = 0
while os.path.exists(f"/proc/{root}"):
    total = 0
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            if open(f"/proc/{p}/comm").read().strip() != "ssh":
                continue
            for line in open(f"/proc/{p}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    peak = max(peak, total)
    time.sleep(0.5)
print(peak)
PY
  local sampler=$!
  local rc=0
  wait "$pid" || rc=$?
  wait "$sampler" || true
  echo "$rc" > "$work/$name.rc"
}

ansible_run() { # name forks
  env ANSIBLE_CONFIG="$an/ansible.cfg" ANSIBLE_HOME="$an/home" ANSIBLE_FORKS="$2" LC_ALL=C.UTF-8 \
    /usr/bin/time -f '%e %M' -o "$work/$1.time" \
    "$venv/bin/ansible-playbook" bench/scale-playbook.yml > "$work/$1.out" 2> "$work/$1.err" \
    && echo 0 > "$work/$1.rc" || echo $? > "$work/$1.rc"
}

rows=()
for n in "${sizes[@]}"; do
  echo "== $n hosts: lab up --light" >&2
  "$bin" -q lab up --light --hosts "$n" --dir "$lab" > "$work/up-$n.txt"
  cfg="$lab/fearless.yaml"
  measure "check-$n" "$bin" -q -c "$cfg" --format json check
  measure "packages-$n" "$bin" -q -c "$cfg" --format json packages
  measure "ping-$n" "$bin" -q -c "$cfg" --format json hosts ping
  an_runs=""
  if [ "$n" -le "$ansible_max" ]; then
    port=$(sed -n 's/^  defaults: { user: root, port: \([0-9]*\).*/\1/p' "$cfg")
    {
      echo "[all]"
      sed -n 's/^    \(web-[0-9]*\): { address: \([0-9.]*\),.*/\1 addr=\2/p' "$cfg"
      echo "[all:vars]"
      echo "ansible_user=root"
      echo "ansible_python_interpreter=/usr/bin/python3"
      echo "ssh_port=$port"
    } > "$an/hosts.ini"
    cat > "$an/ansible.cfg" <<EOF
[defaults]
inventory = $an/hosts.ini
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
    for f in "${forks[@]}"; do
      echo "== $n hosts: ansible-playbook, forks $f" >&2
      ansible_run "an$f-$n" "$f"
    done
    f=${forks[-1]}
    echo "== $n hosts: ansible all -m package_facts, forks $f" >&2
    env ANSIBLE_CONFIG="$an/ansible.cfg" ANSIBLE_HOME="$an/home" ANSIBLE_FORKS="$f" LC_ALL=C.UTF-8 \
      /usr/bin/time -f '%e %M' -o "$work/anpkg-$n.time" \
      "$venv/bin/ansible" all -m package_facts -o > "$work/anpkg-$n.out" 2> "$work/anpkg-$n.err" \
      && echo 0 > "$work/anpkg-$n.rc" || echo $? > "$work/anpkg-$n.rc"
    an_runs=yes
  fi
  # A patch of one package in waves, last: it changes every host.
  echo "== $n hosts: patch acme-extra-01=1.0 in waves 1,5%,25%,100%" >&2
  "$bin" -q lab extras 1 --dir "$lab" > /dev/null
  echo "acme-extra-01=1.0" > "$work/manifest"
  id=$("$bin" -q -c "$cfg" --as alice --format json change new --title "scale $n" \
    --hosts 'web-*' --component sshd | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
  "$bin" -q -c "$cfg" --as alice change submit "$id" > /dev/null
  "$bin" -q -c "$cfg" --as bob change approve "$id" > /dev/null
  "$bin" -q -c "$cfg" --as alice change schedule "$id" > /dev/null
  measure "patch-$n" "$bin" -q -c "$cfg" --as alice --format json patch --change "$id" \
    -m "$work/manifest" --waves 1,5%,25%,100% --bake 0s
  "$bin" -q -c "$cfg" --format json journal verify > "$work/verify-$n.out" 2>&1 \
    && echo 0 > "$work/verify-$n.rc" || echo $? > "$work/verify-$n.rc"
  down
  rows+=("$n $an_runs")
done

python3 - "$work" "$anver" "${forks[*]}" "${rows[@]}" <<'PY'
import json, sys
work, anver, forks, rows = sys.argv[1], sys.argv[2], [int(f) for f in sys.argv[3].split()], sys.argv[4:]
fail = []

def timed(name):
    wall, rss = open(f"{work}/{name}.time").read().split()[-2:]
    rc = open(f"{work}/{name}.rc").read().strip()
    return float(wall), int(rss), rc

def ssh_peak(name):
    try:
        return int(open(f"{work}/{name}.ssh").read().strip() or 0)
    except OSError:
        return 0

table = []
for row in rows:
    n, *rest = row.split()
    n = int(n)
    r = {"n": n}
    for step in ("check", "packages", "ping", "patch"):
        name = f"{step}-{n}"
        wall, rss, rc = timed(name)
        out = open(f"{work}/{name}.out").read()
        try:
            doc = json.loads(out)
        except ValueError:
            fail.append(f"{name}: exit {rc}, not JSON: {open(f'{work}/{name}.err').read()[-400:]}")
            doc = {}
        if step == "check":
            results = doc.get("results", [])
            passed = sum(1 for x in results if x.get("status") == "pass")
            if rc != "0" or passed != 4 * n:
                bad = [f"{x.get('host')}/{x.get('check')}: {x.get('status')} {x.get('message', '')[:80]}"
                       for x in results if x.get("status") != "pass"][:5]
                fail.append(f"{name}: exit {rc}, {passed} of {4 * n} checks passed {bad}")
        elif step == "packages":
            ok = [h for h in doc.get("hosts", []) if h.get("error") is None and h.get("packages")]
            if rc != "0" or len(ok) != n:
                fail.append(f"{name}: exit {rc}, {len(ok)} of {n} hosts answered")
        elif step == "ping":
            ok = [h for h in doc.get("hosts", []) if h.get("error") is None]
            if rc != "0" or len(ok) != n:
                fail.append(f"{name}: exit {rc}, {len(ok)} of {n} hosts reachable")
        else:
            hosts = doc.get("result", {}).get("hosts", [])
            verified = [h for h in hosts if h.get("state") == "verified"]
            if rc != "0" or doc.get("state") != "completed" or len(verified) != n:
                fail.append(f"{name}: exit {rc}, {doc.get('state')}, {len(verified)} of {n} hosts verified")
            vrc = open(f"{work}/verify-{n}.rc").read().strip()
            if vrc != "0":
                fail.append(f"journal verify after {name}: exit {vrc}: {open(f'{work}/verify-{n}.out').read()[-400:]}")
        r[step] = (wall, rss, ssh_peak(name))
    if rest:
        for f in forks:
            name = f"an{f}-{n}"
            wall, _, rc = timed(name)
            recap = open(f"{work}/{name}.out").read()
            if rc != "0" or "failed=0" not in recap:
                fail.append(f"{name}: ansible-playbook exit {rc}: {recap[-400:]}")
            r[f"an{f}"] = wall
        wall, _, rc = timed(f"anpkg-{n}")
        lines = open(f"{work}/anpkg-{n}.out").read().splitlines()
        answered = sum(1 for l in lines if " | SUCCESS => " in l and '"packages"' in l)
        if rc != "0" or answered != n:
            fail.append(f"anpkg-{n}: ansible exit {rc}, {answered} of {n} hosts answered")
        r["anpkg"] = wall
    table.append(r)

steps = ("check", "packages", "ping", "patch")
print(f"light lab, fearless vs ansible-core {anver} (wall seconds; ms a host; fearless max RSS / ssh peak RSS)")
print(f"{'hosts':>5} | " + " | ".join(f"{s:>22}" for s in steps)
      + " | " + " ".join(f"{'playbook f' + str(f):>14}" for f in forks) + f" {'ratio':>6} | {'package_facts':>13} {'ratio':>6}")
for r in table:
    n = r["n"]
    cells = []
    for step in steps:
        wall, rss, ssh = r[step]
        cells.append(f"{wall:6.1f} s {1000 * wall / n:5.0f} ms {rss // 1024:4d}/{ssh // 1024:<4d}M")
    an = ""
    if "anpkg" in r:
        best = min(r[f"an{f}"] for f in forks)
        an = " ".join(f"{r[f'an{f}']:12.1f} s" for f in forks) + f" {best / r['check'][0]:5.1f}x"
        an += f" | {r['anpkg']:11.1f} s {r['anpkg'] / r['packages'][0]:5.1f}x"
    print(f"{n:>5} | {' | '.join(cells)} | {an}")

# Growth: at most linear in hosts past the size where per-connection costs dominate.
by_n = {r["n"]: r for r in table}
if 100 in by_n and max(by_n) > 100:
    big = by_n[max(by_n)]
    for step in steps:
        per_small = by_n[100][step][0] / 100
        per_big = big[step][0] / big["n"]
        verdict = "ok" if per_big <= 1.5 * per_small else "FAIL (faster than linear)"
        print(f"growth {step}: {1000 * per_small:.0f} ms a host at 100, {1000 * per_big:.0f} ms at {big['n']}: {verdict}")
if fail:
    print("failed:", *fail[:20], sep="\n  ", file=sys.stderr)
    sys.exit(1)
PY
