//! The dnf/rpm backend (also `yum` where yum is dnf 4): `rpm -qa --qf`, `dnf repoquery`,
//! `dnf --assumeno` to simulate, `dnf install` with exact versions (dnf downgrades when
//! asked for an older version), `dnf mark`, and `dnf history`.
//!
//! dnf waits for its own lock without a limit, so every changing command runs behind a
//! small wait script that gives up after [`Limits::lock_wait`](crate::Limits) and names
//! the process holding it.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::backend::{
    self, CACHE_DIR, CachedFile, Offered, PackageManager, Request, Target, script_argv, with_env,
};
use crate::error::{OutputError, PkgError};
use crate::history::{self, Transaction};
use crate::model::{Built, Delta, Installed, Manager, Pending, Relations};

/// dnf over rpm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dnf {
    /// `dnf`, or `yum` where yum is dnf.
    pub manager: Manager,
}

/// `%{EVR}` with the epoch only when there is one, as dnf prints versions.
const EVR: &str = "%|EPOCH?{%{EPOCH}:}:{}|%{VERSION}-%{RELEASE}";

const INSTALLED: &str = r#"rpm -qa --qf "%{NAME}\t%{ARCH}\t$1\n" || exit
echo @@manual
"$2" -q --disablerepo='*' repoquery --userinstalled --qf '%{name}\t%{arch}'
"#;

/// Every rpm with its requirements and provides (`$1`: the EVR format).
const RELATIONS: &str = r#"rpm -qa --qf "%{NAME}\t%{ARCH}\t$1\t[%{REQUIRENAME},]\t[%{PROVIDENAME},]\n"
"#;

/// Every name the repositories offer (`$1`: dnf or yum), then every installed one.
const NAMES: &str = r#""$1" -q repoquery --qf '%{name}' || exit
rpm -qa --qf '%{NAME}\n'
"#;

/// `PATH\tOWNER` for each path an rpm owns.
const OWNERS: &str = r#"for f in "$@"; do
	o=$(rpm -qf --qf '%{NAME}\n' -- "$f" 2>/dev/null | head -n 1) && [ -n "$o" ] && printf '%s\t%s\n' "$f" "$o"
done
exit 0
"#;

/// Every package with its source RPM (`$1`: [`EVR`]).
const BUILT: &str = r#"rpm -qa --qf "%{NAME}\t%{ARCH}\t$1\t%{SOURCERPM}\n"
"#;

const PENDING: &str = r#""$1" -q repoquery --upgrades --latest-limit 1 --qf '%{name}\t%{arch}\t%{evr}\t%{reponame}' || exit
echo @@security
"$1" -q updateinfo list --updates --security 2>/dev/null || true
"#;

const CACHED: &str = r#"d=$1
[ -d "$d" ] || exit 0
for f in "$d"/*.rpm; do
	[ -e "$f" ] || continue
	rpm -qp --qf "%{NAME}\t%{ARCH}\t$2\t" "$f" && printf '%s\n' "$f"
done
"#;

/// `$1` seconds to wait, then the command. dnf 4 keeps its locks as pid files.
const LOCKED: &str = r#"wait=$1
shift
i=0
while :; do
	holder=
	for f in /var/lib/dnf/rpmdb_lock.pid /var/cache/dnf/metadata_lock.pid /var/cache/dnf/download_lock.pid /var/run/dnf.pid; do
		[ -r "$f" ] || continue
		pid=$(cat "$f" 2>/dev/null)
		case $pid in '' | *[!0-9]*) continue ;; esac
		if [ -d "/proc/$pid" ]; then
			holder="process $pid ($(cat "/proc/$pid/comm" 2>/dev/null))"
		fi
	done
	[ -z "$holder" ] && break
	if [ "$i" -ge "$wait" ]; then
		echo "fearless: could not get the package lock: held by $holder" >&2
		exit 75
	fi
	sleep 1
	i=$((i + 1))
done
exec "$@"
"#;

const CACHE: &str = r#"d=$1
dnf=$2
shift 2
mkdir -p "$d" || exit
[ "$#" -eq 0 ] && exit 0
"$dnf" -q -y reinstall --downloadonly --destdir "$d" "$@" >/dev/null 2>&1 && exit 0
for p in "$@"; do
	"$dnf" -q -y reinstall --downloadonly --destdir "$d" "$p" >/dev/null 2>&1 || echo "missing $p"
done
"#;

const DEPENDS: &str = r#"dnf=$1
shift
for p in "$@"; do
	echo "@@ $p"
	"$dnf" -q repoquery --requires --resolve --qf '%{name}' "$p" || exit
done
"#;

const HISTORY_INFO: &str = r#"dnf=$1
shift
for id in "$@"; do
	echo "@@fearless-tx $id"
	"$dnf" history info "$id" || exit
done
"#;

/// dnf's name for an exact version: `name-version[.arch]`.
fn spec(name: &str, version: &str, arch: Option<&str>) -> String {
    match arch {
        Some(arch) if !arch.is_empty() => format!("{name}-{version}.{arch}"),
        _ => format!("{name}-{version}"),
    }
}

fn name_arch(key: &str) -> String {
    match key.split_once(':') {
        Some((name, arch)) if !arch.is_empty() => format!("{name}.{arch}"),
        _ => key.to_owned(),
    }
}

fn budget(t: &Target<'_>) -> Duration {
    t.limits.lock_wait + t.limits.command
}

impl Dnf {
    fn program(&self) -> &'static str {
        self.manager.program()
    }

    /// Run a changing dnf command behind the lock wait.
    async fn locked(&self, t: &Target<'_>, action: &str, args: &[String]) -> Result<(), PkgError> {
        let mut inner = vec![
            t.limits.lock_wait.as_secs().max(1).to_string(),
            self.program().to_owned(),
        ];
        inner.extend(args.iter().cloned());
        let out = backend::run(
            t,
            &backend::detached(script_argv(LOCKED, &inner)),
            budget(t),
        )
        .await?;
        if out.success() {
            return Ok(());
        }
        if out.code == Some(75)
            && let Some(holder) = lock_holder(&out.stderr_str())
        {
            return Err(backend::locked(t, holder));
        }
        Err(backend::failed(t, action, &out))
    }
}

impl PackageManager for Dnf {
    fn manager(&self) -> Manager {
        self.manager
    }

    async fn installed(&self, t: &Target<'_>) -> Result<Vec<Installed>, PkgError> {
        let out = backend::run_script(
            t,
            "list packages with rpm -qa",
            INSTALLED,
            &[EVR.to_owned(), self.program().to_owned()],
            t.limits.command,
        )
        .await?;
        parse_installed(&out.stdout_str())
            .map_err(|e| backend::parse_error(t, "rpm -qa", e.to_string()))
    }

    async fn refresh(&self, t: &Target<'_>) -> Result<(), PkgError> {
        self.locked(t, "dnf makecache", &["-q".into(), "makecache".into()])
            .await
    }

    async fn pending(&self, t: &Target<'_>) -> Result<Vec<Pending>, PkgError> {
        let installed = self.installed(t).await?;
        let out = backend::run_script(
            t,
            "list updates with dnf repoquery",
            PENDING,
            &[self.program().to_owned()],
            t.limits.command,
        )
        .await?;
        Ok(parse_pending(&out.stdout_str(), &installed))
    }

    async fn offered(&self, t: &Target<'_>, names: &[String]) -> Result<Vec<Offered>, PkgError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut argv = with_env(&[
            self.program(),
            "-q",
            "repoquery",
            "--available",
            "--showduplicates",
            "--qf",
            "%{name}\t%{arch}\t%{evr}",
            "--",
        ]);
        argv.extend(names.iter().cloned());
        let out = backend::run_ok(t, "dnf repoquery --available", &argv, t.limits.command).await?;
        Ok(parse_offered(&out.stdout_str()))
    }

    async fn built(&self, t: &Target<'_>) -> Result<Vec<Built>, PkgError> {
        let out = backend::run_script(
            t,
            "list packages and their sources with rpm -qa",
            BUILT,
            &[EVR.to_owned()],
            t.limits.command,
        )
        .await?;
        parse_built(&out.stdout_str())
            .map_err(|e| backend::parse_error(t, "rpm -qa (sources)", e.to_string()))
    }

    async fn offered_builds(
        &self,
        t: &Target<'_>,
        names: &[String],
    ) -> Result<Vec<Built>, PkgError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let mut argv = with_env(&[
            self.program(),
            "-q",
            "repoquery",
            "--available",
            "--showduplicates",
            "--qf",
            "%{name}\t%{arch}\t%{evr}\t%{sourcerpm}",
            "--",
        ]);
        argv.extend(names.iter().cloned());
        let out = backend::run_ok(t, "dnf repoquery --available", &argv, t.limits.command).await?;
        parse_built(&out.stdout_str())
            .map_err(|e| backend::parse_error(t, "dnf repoquery (sources)", e.to_string()))
    }

    async fn cached(&self, t: &Target<'_>) -> Result<Vec<CachedFile>, PkgError> {
        backend::cached(t, CACHED, &[CACHE_DIR.to_owned(), EVR.to_owned()]).await
    }

    async fn cache(&self, t: &Target<'_>, pkgs: &[Installed]) -> Result<Vec<Installed>, PkgError> {
        let mut args = vec![
            t.limits.lock_wait.as_secs().max(1).to_string(),
            "sh".to_owned(),
            "-c".to_owned(),
            CACHE.to_owned(),
            "sh".to_owned(),
            CACHE_DIR.to_owned(),
            self.program().to_owned(),
        ];
        args.extend(
            pkgs.iter()
                .map(|p| spec(&p.name, &p.version, Some(&p.arch))),
        );
        let out = backend::run_ok(
            t,
            "keep packages in the cache",
            &script_argv(LOCKED, &args),
            budget(t),
        )
        .await?;
        Ok(backend::missing(pkgs, &out.stdout_str(), |p| {
            spec(&p.name, &p.version, Some(&p.arch))
        }))
    }

    async fn simulate(&self, t: &Target<'_>, request: &Request) -> Result<Vec<Delta>, PkgError> {
        let installed = self.installed(t).await?;
        let mut deltas = Vec::new();
        for (verb, args) in transactions(request) {
            let mut argv = with_env(&[self.program(), "--assumeno", verb]);
            argv.extend(setopts(verb));
            argv.extend(args);
            let out = backend::run_read(t, &argv, t.limits.command).await?;
            // --assumeno ends in "Operation aborted." and exit 1; a resolver error says
            // "Error:" and no transaction table.
            let text = out.stdout_str();
            if !out.success() && !text.contains("Transaction Summary") {
                if text.contains("Nothing to do") || out.stderr_str().contains("Nothing to do") {
                    continue;
                }
                return Err(backend::failed(t, &format!("simulate dnf {verb}"), &out));
            }
            deltas.extend(parse_table(&text, &installed));
        }
        Ok(deltas)
    }

    async fn execute(&self, t: &Target<'_>, request: &Request) -> Result<(), PkgError> {
        for (verb, args) in transactions(request) {
            let mut all = vec!["-y".to_owned(), "-q".to_owned(), verb.to_owned()];
            all.extend(setopts(verb));
            all.extend(args);
            self.locked(t, &format!("dnf {verb}"), &all).await?;
        }
        Ok(())
    }

    async fn mark(
        &self,
        t: &Target<'_>,
        manual: &[String],
        auto: &[String],
    ) -> Result<(), PkgError> {
        for (how, keys) in [("install", manual), ("remove", auto)] {
            if keys.is_empty() {
                continue;
            }
            let mut args = vec!["-q".to_owned(), "mark".to_owned(), how.to_owned()];
            args.extend(keys.iter().map(|k| name_arch(k)));
            self.locked(t, &format!("dnf mark {how}"), &args).await?;
        }
        Ok(())
    }

    async fn depends(
        &self,
        t: &Target<'_>,
        manifest: &crate::Manifest,
    ) -> Result<BTreeMap<String, Vec<String>>, PkgError> {
        let mut args = vec![self.program().to_owned()];
        args.extend(
            manifest
                .pins
                .iter()
                .map(|p| spec(&p.name, &p.version, p.arch.as_deref())),
        );
        let out = backend::run_script(
            t,
            "dnf repoquery --requires",
            DEPENDS,
            &args,
            t.limits.command,
        )
        .await?;
        Ok(parse_requires(&out.stdout_str(), manifest))
    }

    async fn relations(&self, t: &Target<'_>) -> Result<Vec<Relations>, PkgError> {
        let out = backend::run_script(
            t,
            "read package relations with rpm -qa",
            RELATIONS,
            &[EVR.to_owned()],
            t.limits.command,
        )
        .await?;
        Ok(parse_relations(&out.stdout_str()))
    }

    async fn names(&self, t: &Target<'_>) -> Result<Vec<String>, PkgError> {
        let out = backend::run_script(
            t,
            "list package names with dnf repoquery",
            NAMES,
            &[self.program().to_owned()],
            t.limits.command,
        )
        .await?;
        Ok(backend::parse_names(&out.stdout_str()))
    }

    async fn owners(
        &self,
        t: &Target<'_>,
        paths: &[String],
    ) -> Result<BTreeMap<String, String>, PkgError> {
        if paths.is_empty() {
            return Ok(BTreeMap::new());
        }
        let out = backend::run_script(t, "rpm -qf", OWNERS, paths, t.limits.command).await?;
        Ok(parse_owners(&out.stdout_str(), paths))
    }

    async fn history(
        &self,
        t: &Target<'_>,
        since: jiff::Timestamp,
    ) -> Result<Vec<Transaction>, PkgError> {
        let argv = with_env(&[self.program(), "-q", "history", "list"]);
        let out = backend::run_ok(t, "dnf history list", &argv, t.limits.command).await?;
        // The list has minute resolution: take a minute more, filter on the exact times.
        let from = since
            .checked_sub(jiff::SignedDuration::from_secs(60))
            .unwrap_or(since);
        let mut ids: Vec<String> = history::parse_dnf_history_list(&out.stdout_str())
            .into_iter()
            .filter(|(_, at)| *at >= from)
            .map(|(id, _)| id.to_string())
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        ids.reverse();
        let mut args = vec![self.program().to_owned()];
        args.extend(ids);
        let out = backend::run_script(t, "dnf history info", HISTORY_INFO, &args, t.limits.command)
            .await?;
        let mut txs: Vec<Transaction> = history::parse_dnf_history_info(&out.stdout_str())
            .into_iter()
            .filter(|tx| tx.start >= since)
            .collect();
        txs.sort_by_key(|tx| tx.start);
        Ok(txs)
    }
}

/// The holder our [`LOCKED`] wait names when it gives up: `... held by process 12 (dnf)`.
pub(crate) fn lock_holder(stderr: &str) -> Option<String> {
    let line = stderr.lines().find(|l| l.contains("held by"))?;
    let holder = line
        .split_once("held by ")
        .map_or("another process", |(_, h)| h)
        .trim();
    Some(holder.to_owned())
}

/// `dnf repoquery --available` lines: `NAME\tARCH\tEVR`.
pub(crate) fn parse_offered(text: &str) -> Vec<Offered> {
    text.lines()
        .filter_map(|l| {
            let mut p = l.split('\t');
            Some(Offered {
                name: p.next()?.to_owned(),
                arch: Some(p.next()?.to_owned()),
                version: p.next()?.to_owned(),
            })
        })
        .collect()
}

/// [`DEPENDS`]'s output: `@@ SPEC` before the names each pin of `manifest` requires.
pub(crate) fn parse_requires(
    text: &str,
    manifest: &crate::Manifest,
) -> BTreeMap<String, Vec<String>> {
    let mut map: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(spec) = line.strip_prefix("@@ ") {
            let name = manifest
                .pins
                .iter()
                .find(|p| self::spec(&p.name, &p.version, p.arch.as_deref()) == spec)
                .map_or_else(|| spec.to_owned(), |p| p.name.clone());
            map.entry(name.clone()).or_default();
            current = Some(name);
        } else if let Some(cur) = &current
            && !line.trim().is_empty()
        {
            backend::add_dependency(&mut map, cur, line.trim());
        }
    }
    map
}

fn setopts(verb: &str) -> Vec<String> {
    match verb {
        "remove" => vec!["--setopt=clean_requirements_on_remove=False".into()],
        _ => vec!["--setopt=install_weak_deps=False".into()],
    }
}

/// dnf cannot install and remove in one command: installs (which also downgrade) first,
/// then removals — a package the change added is no longer needed once the others are back.
fn transactions(request: &Request) -> Vec<(&'static str, Vec<String>)> {
    let mut out = Vec::new();
    if !request.install.is_empty() {
        let specs = request
            .install
            .iter()
            .map(|i| match &i.file {
                Some(f) => f.clone(),
                None => spec(&i.name, &i.version, i.arch.as_deref()),
            })
            .collect();
        out.push(("install", specs));
    }
    if !request.remove.is_empty() {
        out.push((
            "remove",
            request.remove.iter().map(|k| name_arch(k)).collect(),
        ));
    }
    out
}

/// [`INSTALLED`]'s output: `rpm -qa` lines (`NAME\tARCH\tEVR`), then the user-installed
/// `NAME\tARCH` after `@@manual`.
pub(crate) fn parse_installed(text: &str) -> Result<Vec<Installed>, OutputError> {
    let (packages, manual) = text
        .split_once("@@manual\n")
        .ok_or(OutputError::MissingSection("@@manual (userinstalled)"))?;
    let manual: std::collections::BTreeSet<(&str, &str)> = manual
        .lines()
        .filter_map(|l| l.trim().split_once('\t'))
        .collect();
    let mut out = Vec::new();
    for line in packages.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, arch, version] = fields[..] else {
            return Err(OutputError::UnexpectedLine(line.to_owned()));
        };
        // Imported signing keys live in the rpm database but are not packages.
        if name == "gpg-pubkey" {
            continue;
        }
        out.push(Installed {
            name: name.to_owned(),
            arch: arch.to_owned(),
            version: version.to_owned(),
            manual: manual.contains(&(name, arch)),
        });
    }
    Ok(out)
}

/// Capability names that are package names: not files, libraries (`libc.so.6()(64bit)`),
/// rpmlib features or boolean dependencies.
fn capability_names(field: &str, own: &str) -> Vec<String> {
    let mut names: Vec<String> = field
        .split(',')
        .map(str::trim)
        .filter(|c| {
            !c.is_empty()
                && *c != own
                && !c.starts_with('/')
                && !c.contains(['(', ' ', ')'])
                && !c.starts_with("rpmlib")
        })
        .map(str::to_owned)
        .collect();
    names.sort();
    names.dedup();
    names
}

/// [`RELATIONS`]'s output: `NAME\tARCH\tEVR\tREQUIRES,…\tPROVIDES,…` lines (signing keys
/// and lines without the fields are skipped). rpm has no priorities and no half-configured
/// state.
pub(crate) fn parse_relations(text: &str) -> Vec<Relations> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split('\t').collect();
            let [name, arch, version, requires, provides] = fields[..] else {
                return None;
            };
            if name == "gpg-pubkey" || name.is_empty() {
                return None;
            }
            Some(Relations {
                name: name.to_owned(),
                arch: arch.to_owned(),
                version: version.to_owned(),
                configured: true,
                priority: None,
                essential: false,
                depends: capability_names(requires, name),
                provides: capability_names(provides, name),
            })
        })
        .collect()
}

/// [`OWNERS`]'s `PATH\tOWNER` lines, for the paths asked about.
pub(crate) fn parse_owners(text: &str, asked: &[String]) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('\t'))
        .filter(|(path, owner)| !owner.is_empty() && asked.iter().any(|a| a == path))
        .map(|(path, owner)| (path.to_owned(), owner.to_owned()))
        .collect()
}

/// `NAME\tARCH\tEVR\tSOURCERPM` lines ([`BUILT`], and `repoquery` with the same
/// fields). The source's name and version-release come from the source RPM's file name
/// (`openssl-3.0.7-27.el9.src.rpm`), its epoch from the binary's (a source RPM's name
/// carries none); `(none)` (no source RPM) names the binary itself.
pub(crate) fn parse_built(text: &str) -> Result<Vec<Built>, OutputError> {
    let mut out = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split('\t').collect();
        let [name, arch, version, srpm] = fields[..] else {
            return Err(OutputError::UnexpectedLine(line.to_owned()));
        };
        if name == "gpg-pubkey" {
            continue;
        }
        if name.is_empty() || version.is_empty() {
            return Err(OutputError::UnexpectedLine(line.to_owned()));
        }
        let (source, source_version) = match source_of(srpm) {
            Some((n, vr)) => {
                let epoch = version.split_once(':').map(|(e, _)| e);
                let v = match epoch {
                    Some(e) => format!("{e}:{vr}"),
                    None => vr.to_owned(),
                };
                (n.to_owned(), v)
            }
            None => (name.to_owned(), version.to_owned()),
        };
        out.push(Built {
            name: name.to_owned(),
            arch: arch.to_owned(),
            version: version.to_owned(),
            source,
            source_version,
        });
    }
    Ok(out)
}

/// `openssl-3.0.7-27.el9.src.rpm` → (`openssl`, `3.0.7-27.el9`).
fn source_of(srpm: &str) -> Option<(&str, &str)> {
    let stem = srpm
        .strip_suffix(".src.rpm")
        .or_else(|| srpm.strip_suffix(".nosrc.rpm"))?;
    let (rest, release) = stem.rsplit_once('-')?;
    let (name, version) = rest.rsplit_once('-')?;
    if name.is_empty() || version.is_empty() || release.is_empty() {
        return None;
    }
    Some((name, &stem[name.len() + 1..]))
}

/// [`PENDING`]'s output: `repoquery --upgrades` lines (`NAME\tARCH\tEVR\tREPO`), then
/// `updateinfo list --security` after `@@security`.
pub(crate) fn parse_pending(text: &str, installed: &[Installed]) -> Vec<Pending> {
    let (updates, security) = text.split_once("@@security\n").unwrap_or((text, ""));
    // `ADVISORY  SEVERITY/Sec.  NEVRA` lines.
    let secure: Vec<String> = security
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .map(str::to_owned)
        .collect();
    let current: BTreeMap<(&str, &str), &str> = installed
        .iter()
        .map(|p| ((p.name.as_str(), p.arch.as_str()), p.version.as_str()))
        .collect();
    updates
        .lines()
        .filter_map(|l| {
            let mut p = l.split('\t');
            let (name, arch, evr, repo) = (p.next()?, p.next()?, p.next()?, p.next()?);
            let nevra = format!("{name}-{evr}.{arch}");
            let nevra_no_epoch = match evr.split_once(':') {
                Some((_, vr)) => format!("{name}-{vr}.{arch}"),
                None => nevra.clone(),
            };
            Some(Pending {
                name: name.to_owned(),
                arch: arch.to_owned(),
                from: current.get(&(name, arch)).map(|v| (*v).to_owned()),
                to: Some(evr.to_owned()),
                origin: repo.to_owned(),
                security: secure.iter().any(|s| *s == nevra || *s == nevra_no_epoch),
            })
        })
        .collect()
}

/// The transaction table of `dnf --assumeno`.
pub(crate) fn parse_table(text: &str, installed: &[Installed]) -> Vec<Delta> {
    let current: BTreeMap<&str, &Installed> =
        installed.iter().map(|p| (p.name.as_str(), p)).collect();
    let mut out = Vec::new();
    let mut removing = None;
    let mut pending_name: Option<String> = None;
    for line in text.lines() {
        if line.starts_with("Transaction Summary") {
            break;
        }
        if !line.starts_with(' ') {
            let header = line.trim_end_matches(':').to_ascii_lowercase();
            removing = if header.starts_with("removing") {
                Some(true)
            } else if header.starts_with("installing")
                || header.starts_with("upgrading")
                || header.starts_with("downgrading")
                || header.starts_with("reinstalling")
            {
                Some(false)
            } else {
                None
            };
            pending_name = None;
            continue;
        }
        let Some(removing) = removing else { continue };
        if line.trim_start().starts_with("replacing") {
            continue;
        }
        let mut fields: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        // A long name gets a line of its own; the rest follows on the next line.
        if fields.len() == 1 {
            pending_name = fields.pop();
            continue;
        }
        if let Some(name) = pending_name.take() {
            fields.insert(0, name);
        }
        if fields.len() < 4 {
            continue;
        }
        let (name, arch, version) = (&fields[0], &fields[1], &fields[2]);
        let from = current.get(name.as_str()).map(|p| p.version.clone());
        out.push(Delta {
            name: name.clone(),
            arch: arch.clone(),
            from,
            to: (!removing).then(|| version.clone()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(name: &str, version: &str) -> Installed {
        Installed {
            name: name.into(),
            arch: "noarch".into(),
            version: version.into(),
            manual: true,
        }
    }

    #[test]
    fn built_reads_source_rpms_with_the_binary_epoch() {
        let text = "openssl-libs\tx86_64\t1:3.0.7-27.el9\topenssl-3.0.7-27.el9.src.rpm\n\
libacme\tnoarch\t1.0-1\tlibacme-1.0-1.src.rpm\n\
gpg-pubkey\t(none)\t1-2\t(none)\n\
odd\tx86_64\t2-1\t(none)\n";
        let got = parse_built(text).expect("parses");
        assert_eq!(got.len(), 3);
        assert_eq!(
            (got[0].source.as_str(), got[0].source_version.as_str()),
            ("openssl", "1:3.0.7-27.el9")
        );
        assert_eq!(
            (got[1].source.as_str(), got[1].source_version.as_str()),
            ("libacme", "1.0-1")
        );
        assert_eq!(
            (got[2].source.as_str(), got[2].source_version.as_str()),
            ("odd", "2-1")
        );
        assert!(parse_built("a\tb\n").is_err());
        assert_eq!(source_of("x-y-z-1.2-3.src.rpm"), Some(("x-y-z", "1.2-3")));
        assert_eq!(source_of("nodash.src.rpm"), None);
    }

    #[test]
    fn installed_skips_keys_and_reads_userinstalled() {
        let text = "libacme\tnoarch\t1.0-1\ngpg-pubkey\t(none)\tabc-def\ndep\tx86_64\t1:2-3\n@@manual\nlibacme\tnoarch\n";
        let got = parse_installed(text).expect("parses");
        assert_eq!(got.len(), 2);
        assert!(got[0].manual);
        assert!(!got[1].manual);
        assert_eq!(got[1].version, "1:2-3");
    }

    #[test]
    fn pending_joins_installed_versions_and_security_advisories() {
        let text = "acme-api\tnoarch\t1.1-1\tlab\nopenssl\tx86_64\t1:3.0.7-17.el9\tbaseos\n@@security\nRHSA-2023:1234 Important/Sec. openssl-1:3.0.7-17.el9.x86_64\n";
        let installed = [
            inst("acme-api", "1.0-1"),
            Installed {
                arch: "x86_64".into(),
                ..inst("openssl", "1:3.0.7-16.el9")
            },
        ];
        let got = parse_pending(text, &installed);
        assert_eq!(got[0].from.as_deref(), Some("1.0-1"));
        assert!(!got[0].security);
        assert!(got[1].security);
        assert_eq!(got[1].origin, "baseos");
    }

    #[test]
    fn transaction_table_gives_changes_including_wrapped_names() {
        let text = "Dependencies resolved.
================================================================================
 Package                 Architecture   Version           Repository       Size
================================================================================
Upgrading:
 acme-api                noarch         1.1-1             lab             1.6 k
Downgrading:
 libacme                 noarch         1.0-1             lab             1.2 k
Installing dependencies:
 a-very-long-package-name-that-wraps
                         noarch         3-1               lab             1.0 k
Removing:
 acme-docs               noarch         1.0-1             @System         0  
     replacing  old-thing.noarch 0.1-1

Transaction Summary
================================================================================
Upgrade  1 Package
";
        let installed = [
            inst("acme-api", "1.0-1"),
            inst("libacme", "2.0-1"),
            inst("acme-docs", "1.0-1"),
        ];
        let got = parse_table(text, &installed);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].to.as_deref(), Some("1.1-1"));
        assert_eq!(got[1].from.as_deref(), Some("2.0-1"));
        assert_eq!(got[2].name, "a-very-long-package-name-that-wraps");
        assert_eq!(got[2].from, None);
        assert_eq!(got[3].to, None);
    }

    #[test]
    fn specs_name_exact_versions() {
        assert_eq!(
            spec("acme-api", "1.0-1", Some("noarch")),
            "acme-api-1.0-1.noarch"
        );
        assert_eq!(spec("x", "1:2-3", None), "x-1:2-3");
        assert_eq!(name_arch("acme:noarch"), "acme.noarch");
    }

    #[test]
    fn relations_keep_package_names_among_capabilities() {
        let text = "acme-api\tnoarch\t1.0-1\t/bin/sh,libacme,python3,rpmlib(CompressedFileNames),\tacme-api,\n\
                    fearless-lab-system\tnoarch\t12-1\t\t/bin/sh,/usr/bin/python3,python3,\n\
                    gpg-pubkey\t(none)\tabc-def\t\t\n\
                    glibc\tx86_64\t2.34-1\tlibc.so.6()(64bit),basesystem,\tglibc,libc.so.6()(64bit),\n";
        let got = parse_relations(text);
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].depends, ["libacme", "python3"]);
        assert!(got[0].provides.is_empty());
        assert_eq!(got[1].provides, ["python3"]);
        assert_eq!(got[2].depends, ["basesystem"]);
        assert!(got.iter().all(|r| r.configured && !r.is_base()));
    }

    #[test]
    fn owners_pair_paths_with_packages() {
        let asked = ["/usr/sbin/acme-web".to_owned(), "/etc/x".to_owned()];
        let got = parse_owners("/usr/sbin/acme-web\tacme-web\n/etc/y\tother\n", &asked);
        assert_eq!(got.len(), 1);
        assert_eq!(got["/usr/sbin/acme-web"], "acme-web");
    }
}
