//! The apt/dpkg backend: `dpkg-query -W -f`, `apt-mark showmanual`, `apt-get -s`,
//! `apt-cache madison`, `apt-get download`, `apt-get install` with exact versions, and the
//! host's `/var/log/dpkg.log*` and `/var/log/apt/history.log*`.

use std::time::Duration;

use crate::backend::{
    self, CACHE_DIR, CachedFile, Offered, PackageManager, Request, Target, with_env,
};
use crate::error::{OutputError, PkgError};
use crate::history::{self, Transaction};
use crate::model::{Built, Delta, Installed, Manager, Pending, Relations};

/// apt over dpkg.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Apt;

const INSTALLED: &str = r#"dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Architecture}\t${Version}\n' || exit
echo @@manual
apt-mark showmanual
"#;

/// Every package dpkg knows, with what a role needs of it (see [`parse_relations`]).
const RELATIONS: &str = r#"dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Architecture}\t${Version}\t${Priority}\t${Essential}\t${Pre-Depends}, ${Depends}\t${Provides}\n'
"#;

/// `dpkg-query -S` of the paths given: exit 1 only says that one was not found.
const OWNERS: &str = r#"dpkg-query -S -- "$@" 2>/dev/null
rc=$?
[ "$rc" -le 1 ] || exit "$rc"
"#;

/// Every package with the source it was built from (dpkg's virtual `source:` fields).
const BUILT: &str = r#"dpkg-query -W -f='${db:Status-Abbrev}\t${Package}\t${Architecture}\t${Version}\t${source:Package}\t${source:Version}\n'
"#;

/// What the repositories offer for the names `"$@"` (madison: repository versions only),
/// then every record apt knows of them, with its `Source:` field.
const OFFERED_BUILDS: &str = r#"apt-cache madison -- "$@" || exit
echo @@show
apt-cache show -- "$@" || exit
"#;

const CACHED: &str = r#"d=$1
[ -d "$d" ] || exit 0
for f in "$d"/*.deb; do
	[ -e "$f" ] || continue
	dpkg-deb -W --showformat='${Package}\t${Architecture}\t${Version}\t' "$f" && printf '%s\n' "$f"
done
"#;

/// One `apt-get download` for all (one metadata load); only when that fails, one by one
/// to find which version is missing.
const CACHE: &str = r#"d=$1
shift
mkdir -p "$d" && cd "$d" || exit
[ "$#" -eq 0 ] && exit 0
apt-get -q download "$@" >/dev/null 2>&1 && exit 0
for p in "$@"; do
	apt-get -q download "$p" >/dev/null 2>&1 || echo "missing $p"
done
"#;

const HISTORY: &str = r#"date +%z
echo @@dpkg
for f in /var/log/dpkg.log*; do
	[ -e "$f" ] || continue
	case $f in *.gz) gzip -dc "$f" ;; *) cat "$f" ;; esac
done
echo @@apt
for f in /var/log/apt/history.log*; do
	[ -e "$f" ] || continue
	case $f in *.gz) gzip -dc "$f" ;; *) cat "$f" ;; esac
done
"#;

fn lock_option(t: &Target<'_>) -> String {
    format!(
        "DPkg::Lock::Timeout={}",
        t.limits.lock_wait.as_secs().max(1)
    )
}

/// apt's name for a package: `name`, or `name:arch` for a real architecture.
fn apt_name(name: &str, arch: Option<&str>) -> String {
    match arch {
        None | Some("all") => name.to_owned(),
        Some(arch) => format!("{name}:{arch}"),
    }
}

/// apt's name for a package key, `name:arch` ([`Installed::key`]).
fn apt_key(key: &str) -> String {
    let (name, arch) = key
        .split_once(':')
        .map_or((key, None), |(n, a)| (n, Some(a)));
    apt_name(name, arch)
}

fn request_args(request: &Request) -> Vec<String> {
    let installs = request.install.iter().map(|i| match &i.file {
        Some(file) => file.clone(),
        None => format!("{}={}", apt_name(&i.name, i.arch.as_deref()), i.version),
    });
    let removals = request
        .remove
        .iter()
        .map(|key| format!("{}-", apt_key(key)));
    installs.chain(removals).collect()
}

/// The command timeout: the lock wait plus the work.
fn budget(t: &Target<'_>) -> Duration {
    t.limits.lock_wait + t.limits.command
}

/// `Locked` when apt gave up on the lock, else the usual failure. apt names the holder in
/// its "Waiting for cache lock" progress lines (stdout) and says that it gave up on stderr.
fn apt_failure(t: &Target<'_>, action: &str, out: &fearless_exec::Output) -> PkgError {
    let stderr = out.stderr_str();
    let gave_up = stderr
        .lines()
        .any(|l| l.contains("Could not get lock") || l.contains("Unable to acquire the dpkg"));
    if gave_up {
        let all = format!("{}\n{stderr}", out.stdout_str());
        let holder = lock_holder(&all).unwrap_or_else(|| "another process".to_owned());
        return backend::locked(t, holder);
    }
    backend::failed(t, action, out)
}

/// `process 1161 (dpkg)` from apt's last "It is held by process 1161 (dpkg)".
pub(crate) fn lock_holder(text: &str) -> Option<String> {
    let at = text.rfind("held by ")?;
    let rest = &text[at + "held by ".len()..];
    let end = rest.find(')').map_or(rest.len(), |i| i + 1);
    Some(rest[..end].trim().to_owned())
}

impl Apt {
    async fn apt_get(&self, t: &Target<'_>, action: &str, args: &[String]) -> Result<(), PkgError> {
        let lock = lock_option(t);
        let mut argv = with_env(&[
            "apt-get",
            "-y",
            "-q",
            "-o",
            &lock,
            "-o",
            "Dpkg::Options::=--force-confdef",
            "-o",
            "Dpkg::Options::=--force-confold",
        ]);
        argv.extend(args.iter().cloned());
        let out = backend::run(t, &backend::detached(argv), budget(t)).await?;
        if out.success() {
            Ok(())
        } else {
            Err(apt_failure(t, action, &out))
        }
    }

    async fn simulate_args(&self, t: &Target<'_>, args: &[&str]) -> Result<String, PkgError> {
        let mut argv = with_env(&["apt-get", "-s", "-q", "-o", "Debug::NoLocking=1"]);
        argv.extend(args.iter().map(|s| (*s).to_owned()));
        let out = backend::run_ok(t, "simulate with apt-get -s", &argv, t.limits.command).await?;
        Ok(out.stdout_str())
    }
}

impl PackageManager for Apt {
    fn manager(&self) -> Manager {
        Manager::Apt
    }

    async fn installed(&self, t: &Target<'_>) -> Result<Vec<Installed>, PkgError> {
        let out = backend::run_script(
            t,
            "list packages with dpkg-query",
            INSTALLED,
            &[],
            t.limits.command,
        )
        .await?;
        parse_installed(&out.stdout_str())
            .map_err(|e| backend::parse_error(t, "dpkg-query", e.to_string()))
    }

    async fn refresh(&self, t: &Target<'_>) -> Result<(), PkgError> {
        self.apt_get(t, "apt-get update", &["update".to_owned()])
            .await
    }

    async fn pending(&self, t: &Target<'_>) -> Result<Vec<Pending>, PkgError> {
        let text = self.simulate_args(t, &["dist-upgrade"]).await?;
        Ok(parse_simulation(&text)
            .into_iter()
            .map(|s| Pending {
                security: s.origin.to_ascii_lowercase().contains("security"),
                name: s.delta.name,
                arch: s.delta.arch,
                from: s.delta.from,
                to: s.delta.to,
                origin: s.origin,
            })
            .collect())
    }

    /// `apt-get -s dist-upgrade`: apt's own resolution of the full upgrade.
    fn pending_is_resolved(&self) -> bool {
        true
    }

    async fn offered(&self, t: &Target<'_>, names: &[String]) -> Result<Vec<Offered>, PkgError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut argv = with_env(&["apt-cache", "madison", "--"]);
        argv.extend(names.iter().cloned());
        // madison exits 0 with nothing for unknown names; anything else is a failure.
        let out = backend::run_ok(t, "apt-cache madison", &argv, t.limits.command).await?;
        Ok(parse_madison(&out.stdout_str()))
    }

    async fn built(&self, t: &Target<'_>) -> Result<Vec<Built>, PkgError> {
        let out = backend::run_script(
            t,
            "list packages and their sources with dpkg-query",
            BUILT,
            &[],
            t.limits.command,
        )
        .await?;
        parse_built(&out.stdout_str())
            .map_err(|e| backend::parse_error(t, "dpkg-query (sources)", e.to_string()))
    }

    async fn offered_builds(
        &self,
        t: &Target<'_>,
        names: &[String],
    ) -> Result<Vec<Built>, PkgError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let out = backend::run_script(
            t,
            "apt-cache madison and show",
            OFFERED_BUILDS,
            names,
            t.limits.command,
        )
        .await?;
        parse_offered_builds(&out.stdout_str())
            .map_err(|e| backend::parse_error(t, "apt-cache show", e.to_string()))
    }

    async fn cached(&self, t: &Target<'_>) -> Result<Vec<CachedFile>, PkgError> {
        backend::cached(t, CACHED, &[CACHE_DIR.to_owned()]).await
    }

    async fn cache(&self, t: &Target<'_>, pkgs: &[Installed]) -> Result<Vec<Installed>, PkgError> {
        let mut args = vec![CACHE_DIR.to_owned()];
        args.extend(
            pkgs.iter()
                .map(|p| format!("{}={}", apt_name(&p.name, Some(&p.arch)), p.version)),
        );
        let out =
            backend::run_script(t, "keep packages in the cache", CACHE, &args, budget(t)).await?;
        Ok(backend::missing(pkgs, &out.stdout_str(), |p| {
            format!("{}={}", apt_name(&p.name, Some(&p.arch)), p.version)
        }))
    }

    async fn simulate(&self, t: &Target<'_>, request: &Request) -> Result<Vec<Delta>, PkgError> {
        if request.is_empty() {
            return Ok(Vec::new());
        }
        let args = request_args(request);
        let mut all = vec![
            "--allow-downgrades",
            "--no-install-recommends",
            "--purge",
            "install",
        ];
        all.extend(args.iter().map(String::as_str));
        let text = self.simulate_args(t, &all).await?;
        Ok(parse_simulation(&text)
            .into_iter()
            .map(|s| s.delta)
            .collect())
    }

    async fn execute(&self, t: &Target<'_>, request: &Request) -> Result<(), PkgError> {
        if request.is_empty() {
            return Ok(());
        }
        let mut args: Vec<String> = [
            "--allow-downgrades",
            "--no-install-recommends",
            "--purge",
            "install",
        ]
        .map(str::to_owned)
        .to_vec();
        args.extend(request_args(request));
        self.apt_get(t, "apt-get install", &args).await
    }

    async fn mark(
        &self,
        t: &Target<'_>,
        manual: &[String],
        auto: &[String],
    ) -> Result<(), PkgError> {
        for (how, keys) in [("manual", manual), ("auto", auto)] {
            if keys.is_empty() {
                continue;
            }
            let lock = lock_option(t);
            let mut argv = with_env(&["apt-mark", "-o", &lock, how]);
            argv.extend(keys.iter().map(|k| apt_key(k)));
            let out = backend::run(t, &backend::detached(argv), budget(t)).await?;
            if !out.success() {
                return Err(apt_failure(t, &format!("apt-mark {how}"), &out));
            }
        }
        Ok(())
    }

    async fn depends(
        &self,
        t: &Target<'_>,
        manifest: &crate::Manifest,
    ) -> Result<std::collections::BTreeMap<String, Vec<String>>, PkgError> {
        let mut argv = with_env(&[
            "apt-cache",
            "depends",
            "--no-recommends",
            "--no-suggests",
            "--no-conflicts",
            "--no-breaks",
            "--no-replaces",
            "--no-enhances",
            "--",
        ]);
        argv.extend(
            manifest
                .pins
                .iter()
                .map(|p| format!("{}={}", apt_name(&p.name, p.arch.as_deref()), p.version)),
        );
        let out = backend::run_ok(t, "apt-cache depends", &argv, t.limits.command).await?;
        Ok(parse_depends(&out.stdout_str()))
    }

    async fn relations(&self, t: &Target<'_>) -> Result<Vec<Relations>, PkgError> {
        let out = backend::run_script(
            t,
            "read package relations with dpkg-query",
            RELATIONS,
            &[],
            t.limits.command,
        )
        .await?;
        Ok(parse_relations(&out.stdout_str()))
    }

    async fn names(&self, t: &Target<'_>) -> Result<Vec<String>, PkgError> {
        let argv = with_env(&["apt-cache", "pkgnames"]);
        let out = backend::run_ok(t, "apt-cache pkgnames", &argv, t.limits.command).await?;
        Ok(backend::parse_names(&out.stdout_str()))
    }

    async fn owners(
        &self,
        t: &Target<'_>,
        paths: &[String],
    ) -> Result<std::collections::BTreeMap<String, String>, PkgError> {
        if paths.is_empty() {
            return Ok(std::collections::BTreeMap::new());
        }
        let out = backend::run_script(t, "dpkg-query -S", OWNERS, paths, t.limits.command).await?;
        Ok(parse_owners(&out.stdout_str(), paths))
    }

    async fn history(
        &self,
        t: &Target<'_>,
        since: jiff::Timestamp,
    ) -> Result<Vec<Transaction>, PkgError> {
        let out = backend::run_script(t, "read dpkg and apt logs", HISTORY, &[], t.limits.command)
            .await?;
        let text = out.stdout_str();
        let (offset, dpkg, apt) = split_history_dump(&text)
            .map_err(|e| backend::parse_error(t, "the dpkg and apt log dump", e.to_string()))?;
        Ok(history::parse_dpkg(dpkg, apt, offset, since))
    }
}

/// `apt-cache depends` output: a package name at the start of a line, then its
/// `  Depends: NAME` (or `  |Depends:`, alternatives) lines; virtual names are `<name>`.
pub(crate) fn parse_depends(text: &str) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut out: std::collections::BTreeMap<String, Vec<String>> =
        std::collections::BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if !line.starts_with(' ') && !line.trim().is_empty() {
            let name = line.trim().split(':').next().unwrap_or("").to_owned();
            out.entry(name.clone()).or_default();
            current = Some(name);
        } else if let (Some(cur), Some(dep)) = (
            &current,
            line.trim()
                .trim_start_matches('|')
                .strip_prefix("Depends:")
                .or_else(|| {
                    line.trim()
                        .trim_start_matches('|')
                        .strip_prefix("PreDepends:")
                }),
        ) {
            let dep = dep.trim().trim_start_matches('<').trim_end_matches('>');
            backend::add_dependency(&mut out, cur, dep.split(':').next().unwrap_or(dep));
        }
    }
    out
}

/// [`HISTORY`]'s output: the host's UTC offset, dpkg.log and apt's history.log.
pub(crate) fn split_history_dump(
    text: &str,
) -> Result<(jiff::tz::Offset, &str, &str), OutputError> {
    let (offset, rest) = text.split_once('\n').unwrap_or((text, ""));
    let offset = parse_offset(offset.trim()).ok_or_else(|| OutputError::Unexpected {
        what: "UTC offset (date +%z)",
        text: offset.to_owned(),
    })?;
    let rest = rest
        .strip_prefix("@@dpkg\n")
        .ok_or(OutputError::MissingSection("@@dpkg"))?;
    let (dpkg, apt) = rest
        .split_once("@@apt\n")
        .ok_or(OutputError::MissingSection("@@apt"))?;
    Ok((offset, dpkg, apt))
}

/// `+0100` → an offset.
pub(crate) fn parse_offset(s: &str) -> Option<jiff::tz::Offset> {
    let (sign, digits) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = digits[2..].parse().ok()?;
    jiff::tz::Offset::from_seconds(sign * (hours * 3600 + minutes * 60)).ok()
}

/// [`INSTALLED`]'s output: `dpkg-query` lines (`STATUS\tNAME\tARCH\tVERSION`), then
/// `apt-mark showmanual` after `@@manual`.
pub(crate) fn parse_installed(text: &str) -> Result<Vec<Installed>, OutputError> {
    let (packages, manual) = text
        .split_once("@@manual\n")
        .ok_or(OutputError::MissingSection("@@manual (apt-mark)"))?;
    let manual: std::collections::BTreeSet<&str> = manual.lines().map(str::trim).collect();
    let mut out = Vec::new();
    for line in packages.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [status, name, arch, version] = fields[..] else {
            return Err(OutputError::UnexpectedLine(line.to_owned()));
        };
        // Status-Abbrev: desired, current, error. `n`ot-installed and `c`onfig-files only
        // are not on the system; everything else (even half-configured) is.
        let current = status.as_bytes().get(1).copied().unwrap_or(b'n');
        if matches!(current, b'n' | b'c') {
            continue;
        }
        let is_manual = manual.contains(name) || manual.contains(format!("{name}:{arch}").as_str());
        out.push(Installed {
            name: name.to_owned(),
            arch: arch.to_owned(),
            version: version.to_owned(),
            manual: is_manual,
        });
    }
    Ok(out)
}

/// The names of a dpkg relation field (`a (>= 1) | b:any, c`): every alternative, without
/// versions or architecture qualifiers.
fn relation_names(field: &str) -> Vec<String> {
    let mut names: Vec<String> = field
        .split([',', '|'])
        .filter_map(|alt| {
            let name = alt.trim().split([' ', '(', '[']).next()?;
            let name = name.split(':').next()?.trim();
            (!name.is_empty()).then(|| name.to_owned())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// [`RELATIONS`]'s output: `STATUS\tNAME\tARCH\tVERSION\tPRIORITY\tESSENTIAL\tDEPENDS\t
/// PROVIDES` lines; packages that are not on the system (`n`, `c`) are left out, a line
/// that does not have the fields is skipped.
pub(crate) fn parse_relations(text: &str) -> Vec<Relations> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let [
                status,
                name,
                arch,
                version,
                priority,
                essential,
                depends,
                provides,
            ] = fields[..]
            else {
                return None;
            };
            let current = status.as_bytes().get(1).copied().unwrap_or(b'n');
            if matches!(current, b'n' | b'c') || name.is_empty() {
                return None;
            }
            let error = status.as_bytes().get(2).copied().unwrap_or(b' ');
            Some(Relations {
                name: name.to_owned(),
                arch: arch.to_owned(),
                version: version.to_owned(),
                configured: matches!(current, b'i' | b't') && error == b' ',
                priority: (!priority.trim().is_empty()).then(|| priority.trim().to_owned()),
                essential: essential.trim() == "yes",
                depends: relation_names(depends),
                provides: relation_names(provides)
                    .into_iter()
                    .filter(|p| p != name)
                    .collect(),
            })
        })
        .collect()
}

/// `dpkg-query -S` lines (`pkg[:arch][, pkg2]: /path`; diversion lines skipped): the first
/// owner of each path asked about.
pub(crate) fn parse_owners(
    text: &str,
    asked: &[String],
) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for line in text.lines() {
        if line.starts_with("diversion by ") {
            continue;
        }
        let Some((packages, path)) = line.split_once(": /") else {
            continue;
        };
        let path = format!("/{path}");
        let Some(first) = packages.split(',').next() else {
            continue;
        };
        let name = first.trim().split(':').next().unwrap_or_default();
        if !name.is_empty() && asked.contains(&path) {
            out.entry(path).or_insert_with(|| name.to_owned());
        }
    }
    out
}

/// [`BUILT`]'s output: `STATUS\tNAME\tARCH\tVERSION\tSOURCE\tSOURCE_VERSION` lines;
/// packages that are not installed (`n`, `c`) are left out, as in [`parse_installed`].
pub(crate) fn parse_built(text: &str) -> Result<Vec<Built>, OutputError> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [status, name, arch, version, source, source_version] = fields[..] else {
            return Err(OutputError::UnexpectedLine(line.to_owned()));
        };
        let current = status.as_bytes().get(1).copied().unwrap_or(b'n');
        if matches!(current, b'n' | b'c') {
            continue;
        }
        if name.is_empty() || version.is_empty() {
            return Err(OutputError::UnexpectedLine(line.to_owned()));
        }
        out.push(Built {
            name: name.to_owned(),
            arch: arch.to_owned(),
            version: version.to_owned(),
            source: if source.is_empty() { name } else { source }.to_owned(),
            source_version: if source_version.is_empty() {
                version
            } else {
                source_version
            }
            .to_owned(),
        });
    }
    Ok(out)
}

/// [`OFFERED_BUILDS`]'s output: madison's lines, `@@show`, then `apt-cache show`'s
/// records. A record is offered when madison lists its name and version from a
/// repository (`show` also prints the installed record from dpkg's status file); its
/// `Source:` field is `NAME` or `NAME (VERSION)`, absent when both are the binary's.
pub(crate) fn parse_offered_builds(text: &str) -> Result<Vec<Built>, OutputError> {
    let (madison, show) = text
        .split_once("@@show\n")
        .ok_or(OutputError::MissingSection("@@show (apt-cache show)"))?;
    let offered = parse_madison(madison);
    let mut out: Vec<Built> = Vec::new();
    for stanza in show.split("\n\n") {
        let field = |key: &str| {
            stanza.lines().find_map(|l| {
                l.strip_prefix(key)
                    .and_then(|r| r.strip_prefix(':'))
                    .map(str::trim)
            })
        };
        let (Some(name), Some(version)) = (field("Package"), field("Version")) else {
            continue;
        };
        if !offered
            .iter()
            .any(|o| o.name == name && o.version == version)
        {
            continue;
        }
        let (source, source_version) = match field("Source") {
            Some(s) => match s.split_once(' ') {
                Some((n, v)) => (
                    n.to_owned(),
                    v.trim()
                        .trim_start_matches('(')
                        .trim_end_matches(')')
                        .to_owned(),
                ),
                None => (s.to_owned(), version.to_owned()),
            },
            None => (name.to_owned(), version.to_owned()),
        };
        let b = Built {
            name: name.to_owned(),
            arch: field("Architecture").unwrap_or_default().to_owned(),
            version: version.to_owned(),
            source,
            source_version,
        };
        if !out.contains(&b) {
            out.push(b);
        }
    }
    Ok(out)
}

pub(crate) struct Simulated {
    delta: Delta,
    origin: String,
}

/// `Inst NAME [OLD] (NEW ORIGIN… [ARCH])` and `Remv NAME [OLD]` lines of `apt-get -s`.
pub(crate) fn parse_simulation(text: &str) -> Vec<Simulated> {
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("Inst ") {
            let (name, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            let (from, rest) = match rest.strip_prefix('[') {
                Some(r) => match r.split_once("] ") {
                    Some((old, rest)) => (Some(old.to_owned()), rest),
                    None => continue,
                },
                None => (None, rest),
            };
            let Some(inner) = rest.strip_prefix('(').and_then(|r| r.split(')').next()) else {
                continue;
            };
            let (to, rest) = inner.split_once(' ').unwrap_or((inner, ""));
            let (origin, arch) = match rest.rsplit_once('[') {
                Some((origin, arch)) => (origin.trim(), arch.trim_end_matches(']')),
                None => (rest.trim(), ""),
            };
            out.push(Simulated {
                delta: Delta {
                    name: name.to_owned(),
                    arch: arch.to_owned(),
                    from,
                    to: Some(to.to_owned()),
                },
                origin: origin.to_owned(),
            });
        } else if let Some(rest) = line.strip_prefix("Remv ") {
            let (name, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            let from = rest
                .strip_prefix('[')
                .and_then(|r| r.split(']').next())
                .map(str::to_owned);
            out.push(Simulated {
                delta: Delta {
                    name: name.to_owned(),
                    arch: String::new(),
                    from,
                    to: None,
                },
                origin: String::new(),
            });
        }
    }
    out
}

/// `name | version | source` lines; only binary package sources count.
pub(crate) fn parse_madison(text: &str) -> Vec<Offered> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split('|').map(str::trim);
            let (name, version, source) = (parts.next()?, parts.next()?, parts.next()?);
            (source.ends_with("Packages") && !name.is_empty() && !version.is_empty()).then(|| {
                Offered {
                    name: name.to_owned(),
                    arch: None,
                    version: version.to_owned(),
                }
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn installed_keeps_installed_states_and_reads_marks() {
        let text = "ii \tlibacme\tall\t1.0\nrc \told\tamd64\t0.9\niF \thalf\tamd64\t2\nii \tlibc6\tamd64\t2.36-9\n@@manual\nlibacme\nhalf:amd64\n";
        let got = parse_installed(text).expect("parses");
        let names: Vec<_> = got.iter().map(|p| (p.name.as_str(), p.manual)).collect();
        assert_eq!(names, [("libacme", true), ("half", true), ("libc6", false)]);
        assert!(parse_installed("ii \tx\n@@manual\n").is_err());
    }

    #[test]
    fn built_reads_sources_and_defaults_to_the_binary() {
        let text = "ii \tlibssl3\tamd64\t3.0.15-1~deb12u1\topenssl\t3.0.15-1~deb12u1\n\
ii \tlibfoo1\tamd64\t1.2-3+b1\tfoo\t1.2-3\n\
rc \tgone\tamd64\t1\tgone\t1\n\
ii \tlibacme\tall\t1.0\t\t\n";
        let got = parse_built(text).expect("parses");
        assert_eq!(got.len(), 3);
        assert_eq!(
            (got[0].source.as_str(), got[0].name.as_str()),
            ("openssl", "libssl3")
        );
        assert_eq!(
            (got[1].version.as_str(), got[1].source_version.as_str()),
            ("1.2-3+b1", "1.2-3")
        );
        assert_eq!(
            (got[2].source.as_str(), got[2].source_version.as_str()),
            ("libacme", "1.0")
        );
        assert!(parse_built("ii \tx\tall\t1\n").is_err());
    }

    #[test]
    fn offered_builds_are_the_repository_records_with_their_sources() {
        let text = "   libssl3 | 3.0.16-1~deb12u1 | http://deb.debian.org/debian-security bookworm-security/main amd64 Packages\n\
   libssl3 | 3.0.15-1~deb12u1 | http://deb.debian.org/debian bookworm/main amd64 Packages\n\
@@show\n\
Package: libssl3\nVersion: 3.0.16-1~deb12u1\nArchitecture: amd64\nSource: openssl\nDescription: x\n\n\
Package: libssl3\nVersion: 3.0.15-1~deb12u1\nArchitecture: amd64\nSource: openssl (3.0.15-1~deb12u1)\n\n\
Package: libssl3\nStatus: install ok installed\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\nSource: openssl\n\n";
        let got = parse_offered_builds(text).expect("parses");
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].source, "openssl");
        assert_eq!(got[0].source_version, "3.0.16-1~deb12u1");
        assert_eq!(got[1].source_version, "3.0.15-1~deb12u1");
        assert!(parse_offered_builds("no sections").is_err());
    }

    #[test]
    fn simulation_lines_give_exact_changes_and_origins() {
        let text = "Reading package lists...\n\
Inst acme-api [1.0] (1.1 fearless-lab:lab [all])\n\
Inst libc6 [2.36-9+deb12u3] (2.36-9+deb12u4 Debian:12.5/stable, Debian-Security:12/stable-security [amd64]) []\n\
Inst newdep (3.0 Debian:12/stable [amd64])\n\
Remv oldthing [0.1]\n\
Conf acme-api (1.1 fearless-lab:lab [all])\n";
        let got = parse_simulation(text);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].delta.from.as_deref(), Some("1.0"));
        assert_eq!(got[0].delta.to.as_deref(), Some("1.1"));
        assert_eq!(got[0].delta.arch, "all");
        assert_eq!(got[0].origin, "fearless-lab:lab");
        assert!(got[1].origin.contains("stable-security"));
        assert_eq!(got[1].delta.arch, "amd64");
        assert_eq!(got[2].delta.from, None);
        assert_eq!(got[3].delta.to, None);
        assert_eq!(got[3].delta.from.as_deref(), Some("0.1"));
    }

    #[test]
    fn madison_keeps_binary_sources() {
        let text = "  acme-api |        1.1 | file:/srv/lab-repo ./ Packages\n  acme-api |        1.0 | file:/srv/lab-repo ./ Packages\n     acme |        1.0 | http://x bookworm/main Sources\n";
        let got = parse_madison(text);
        assert_eq!(got.len(), 2);
        assert_eq!(got[1].version, "1.0");
    }

    #[test]
    fn request_arguments_use_files_pins_and_removals() {
        let r = Request {
            install: vec![
                crate::backend::InstallItem {
                    name: "libacme".into(),
                    arch: Some("all".into()),
                    version: "1.0".into(),
                    file: None,
                },
                crate::backend::InstallItem {
                    name: "libc6".into(),
                    arch: Some("amd64".into()),
                    version: "2.36-9".into(),
                    file: Some("/var/cache/fearless/packages/libc6.deb".into()),
                },
            ],
            remove: vec!["newdep:all".into(), "x:i386".into()],
        };
        assert_eq!(
            request_args(&r),
            [
                "libacme=1.0",
                "/var/cache/fearless/packages/libc6.deb",
                "newdep-",
                "x:i386-"
            ]
        );
    }

    #[test]
    fn the_lock_holder_is_read_from_apt_progress() {
        let text = "Waiting for cache lock: Could not get lock /var/lib/dpkg/lock-frontend. It is held by process 1161 (dpkg)...\r\nE: Unable to acquire the dpkg frontend lock";
        assert_eq!(lock_holder(text).as_deref(), Some("process 1161 (dpkg)"));
        assert_eq!(lock_holder("E: nothing"), None);
    }

    #[test]
    fn depends_are_read_per_package() {
        let got = parse_depends(
            "acme-api\n  Depends: python3\n  Depends: libacme\nacme-web\n |Depends: <mail-transport-agent>\n  PreDepends: dpkg\n",
        );
        assert_eq!(got["acme-api"], ["python3", "libacme"]);
        assert_eq!(got["acme-web"], ["mail-transport-agent", "dpkg"]);
    }

    #[test]
    fn offsets_parse() {
        assert_eq!(parse_offset("+0000").map(|o| o.seconds()), Some(0));
        assert_eq!(parse_offset("-0530").map(|o| o.seconds()), Some(-19800));
        assert_eq!(parse_offset("UTC"), None);
    }

    #[test]
    fn relations_read_priorities_dependencies_and_half_configured_packages() {
        let text = "ii \tlibc6\tamd64\t2.36-9\trequired\tno\t, libgcc-s1\t\n\
                    iF \tacme-web\tall\t1.0\toptional\t\t, python3\t\n\
                    ii \tpython3-apt\tamd64\t2.6.0\toptional\t\t, python3 (<< 3.12), python3:any, libapt-pkg6.0 (>= 2.6) | libapt-pkg\tpython3.11-apt\n\
                    rc \told\tall\t1\toptional\t\t, \t\n\
                    ii \tdash\tamd64\t0.5.12\trequired\tyes\tdebianutils (>= 5.6-0.1), \tsh\n\
                    garbage\n";
        let got = parse_relations(text);
        assert_eq!(
            got.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["libc6", "acme-web", "python3-apt", "dash"]
        );
        assert!(got[0].is_base() && got[0].configured);
        assert!(!got[1].configured, "iF is half-configured");
        assert!(!got[1].is_base());
        assert_eq!(
            got[2].depends,
            ["libapt-pkg", "libapt-pkg6.0", "python3"],
            "alternatives, versions and :any"
        );
        assert_eq!(got[2].provides, ["python3.11-apt"]);
        assert!(got[3].essential && got[3].is_base());
        assert_eq!(got[3].depends, ["debianutils"]);
    }

    #[test]
    fn owners_take_the_first_package_and_skip_diversions() {
        let asked = [
            "/usr/sbin/acme-web".to_owned(),
            "/usr/bin/python3.11".to_owned(),
            "/etc/init.d/ssh".to_owned(),
        ];
        let text = "acme-web: /usr/sbin/acme-web\n\
                    diversion by x from: /usr/bin/python3.11\n\
                    python3.11-minimal:amd64, other: /usr/bin/python3.11\n\
                    not-asked: /usr/bin/elsewhere\n";
        let got = parse_owners(text, &asked);
        assert_eq!(got.len(), 2);
        assert_eq!(got["/usr/sbin/acme-web"], "acme-web");
        assert_eq!(got["/usr/bin/python3.11"], "python3.11-minimal");
    }
}
