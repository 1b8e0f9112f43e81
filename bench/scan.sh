#!/usr/bin/env bash
# Benchmark of `fearless scan` (issue 17) against Semgrep, in the same invocation, on the
# same tree: real projects' sources from package registries (Django's sdist from PyPI,
# TypeScript's and webpack's npm packages), cached under $CORPUS. Semgrep runs the rules of
# bench/scan-semgrep.yml (shell, injection, os-file for Python and JavaScript, written to
# match the same constructs as fearless's built-in rules) with -j 2; fearless runs all its
# built-in rules on every language it knows (more work than Semgrep is given).
# Prints wall times, the ratio (target: fearless >= 10x faster), files/s and MB/s, and the
# agreement on the shared rules: findings both report (rule, file, line) / their union,
# over the Python and JavaScript files.
# Needs: network to PyPI and npm the first time (cached after), python3, npm. No root, no lab.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
CORPUS=${CORPUS:-/var/cache/fearless/scan-corpus}
VENV=${SEMGREP_VENV:-/var/cache/fearless/semgrep-venv}
JOBS=${JOBS:-2}
cargo build -q --release -p fearless-cli
bin="${CARGO_TARGET_DIR:-target}/release/fearless"
[[ $bin = /* ]] || bin="$repo/$bin"

# ---- Semgrep and the corpus (cached) -------------------------------------------------
if [[ ! -x $VENV/bin/semgrep ]]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q semgrep
fi
src="$CORPUS/src"
mkdir -p "$src"
if [[ ! -d $src/Django-5.1.4 ]]; then
  "$VENV/bin/pip" download -q --no-binary :all: --no-deps django==5.1.4 -d "$CORPUS"
  tar xzf "$CORPUS/Django-5.1.4.tar.gz" -C "$src"
fi
for pkg in typescript@5.6.3 webpack@5.97.1; do
  dir="$src/${pkg/@/-}"
  if [[ ! -d $dir ]]; then
    (cd "$CORPUS" && npm pack -q "$pkg" > /dev/null)
    mkdir -p "$dir" && tar xzf "$CORPUS/${pkg/@/-}.tgz" -C "$dir"
  fi
done
# Real code has few of these constructs, so the agreement is also measured where they are
# dense: fearless's own Python and JavaScript test corpus (positives and look-alikes).
rm -rf "$src/fearless-corpus" && mkdir -p "$src/fearless-corpus"
cp -r crates/scan/tests/corpus/{python,python_wrapper,javascript} "$src/fearless-corpus/"
# Semgrep skips what fearless skips (vendored and build directories, minified JS), and
# files over fearless's 5 MiB cap (--max-target-bytes); its own default ignore list (which
# drops tests/) is replaced by this file.
printf '%s\n' node_modules/ vendor/ dist/ build/ target/ __pycache__/ .venv/ venv/ \
  third_party/ '*.min.js' > "$src/.semgrepignore"

work=$(mktemp -d)
[[ -n ${KEEP:-} ]] || trap 'rm -rf "$work"' EXIT
now() { date +%s.%N; }

cd "$src"
# Warm the page cache (-o takes a regular file: fearless replaces it atomically).
"$bin" scan . --format json -o "$work/warm.json" > /dev/null 2>&1 || [[ $? -eq 1 ]]
t0=$(now)
"$bin" scan . --format json -o "$work/fearless.json" > /dev/null 2>&1 || [[ $? -eq 1 ]]
t1=$(now)
s0=$(now)
"$VENV/bin/semgrep" scan --config "$repo/bench/scan-semgrep.yml" --metrics=off \
  --disable-version-check -j "$JOBS" --max-target-bytes 5242880 --json -q \
  -o "$work/semgrep.json" . > /dev/null 2>&1 || true
s1=$(now)

python3 - "$work/fearless.json" "$work/semgrep.json" "$t0" "$t1" "$s0" "$s1" "$src" <<'PY'
import json, os, sys
fj, sj, t0, t1, s0, s1, src = sys.argv[1:]
fl, sg = float(t1) - float(t0), float(s1) - float(s0)
f = json.load(open(fj))
s = json.load(open(sj))
if s.get("errors"):
    kinds = {}
    for e in s["errors"]:
        kind = e.get("type", "?")
        kind = kind[0] if isinstance(kind, list) else kind
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"semgrep errors (files it could not fully analyse): {kinds}")
scanned = [p for p in s.get("paths", {}).get("scanned", [])]
sg_bytes = sum(os.path.getsize(os.path.join(src, p)) for p in scanned)
mb = 1024 * 1024
print(f"tree: {src} (Django 5.1.4 sdist, TypeScript 5.6.3 and webpack 5.97.1 npm packages, fearless-corpus/)")
print(f"fearless: {fl:.2f} s wall, {f['files_scanned']} files, {f['bytes_scanned'] / mb:.1f} MB "
      f"({f['files_scanned'] / fl:.0f} files/s, {f['bytes_scanned'] / mb / fl:.1f} MB/s), "
      f"{len(f['findings'])} findings (all rules, all languages), {len(f['notes'])} notes")
print(f"semgrep:  {sg:.2f} s wall, {len(scanned)} files, {sg_bytes / mb:.1f} MB "
      f"({len(scanned) / sg:.0f} files/s, {sg_bytes / mb / sg:.1f} MB/s), "
      f"{len(s['results'])} findings (shell, injection, os-file on Python and JavaScript)")
print(f"ratio: fearless is {sg / fl:.1f}x faster (target >= 10x)")
shared = {"shell", "injection", "os-file"}
exts = (".py", ".js", ".mjs", ".cjs")
ours = {(x["rule"], x["path"], x["line"]) for x in f["findings"]
        if x["rule"] in shared and x["path"].endswith(exts)}
theirs = set()
for r in s["results"]:
    rule = r["check_id"].rsplit(".", 1)[-1].rsplit("-", 1)[0]
    path = r["path"][2:] if r["path"].startswith("./") else r["path"]
    theirs.add((rule, path, r["start"]["line"]))
both, union = ours & theirs, ours | theirs
pct = 100 * len(both) / len(union) if union else 100.0
print(f"agreement on shared rules: {len(both)} both / {len(union)} union = {pct:.1f}% "
      f"(fearless only {len(ours - theirs)}, semgrep only {len(theirs - ours)})")
for rule in sorted(shared):
    o = {x for x in ours if x[0] == rule}
    t = {x for x in theirs if x[0] == rule}
    u = o | t
    print(f"  {rule}: fearless {len(o)}, semgrep {len(t)}, both {len(o & t)} / union {len(u)}")
real = {x for x in union if not x[1].startswith("fearless-corpus/")}
print(f"  of which in the registry projects: both {len(real & both)} / union {len(real)}")
for tag, diff in (("fearless only", ours - theirs), ("semgrep only", theirs - ours)):
    for x in sorted(diff)[:8]:
        print(f"  {tag}: {x[1]}:{x[2]} {x[0]}")
PY
