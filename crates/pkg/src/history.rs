//! A host's own record of its package changes, read from the package managers' history.
//!
//! `fearless whatchanged` lists every package change on each host in a time window,
//! including the ones made outside fearless (by hand, by unattended-upgrades, by another
//! tool). The package managers already keep that record; this module turns it into
//! [`Transaction`]s:
//!
//! - Debian family ([`parse_dpkg`]): `/var/log/dpkg.log*` is the truth about what changed,
//!   since every change, by apt or by `dpkg -i` directly, goes through dpkg. apt's
//!   `history.log` only says which dpkg runs one apt command made, and who ran it.
//! - RPM family: `dnf history list` finds the transactions in the window
//!   ([`parse_dnf_history_list`]) and `dnf history info` describes each one
//!   ([`parse_dnf_history_info`]).
//!
//! Everything here is a pure function of text a host printed; fetching it is the caller's
//! job. Logs get rotated, truncated and occasionally corrupted, so a line that does not
//! parse is skipped instead of failing the whole host.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

use jiff::Timestamp;
use jiff::civil::{Date, DateTime, Time};
use jiff::tz::Offset;
use serde::Serialize;

use crate::version::{self, Kind};

/// What happened to one package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Installed where it was not installed before.
    Install,
    /// Replaced by a newer version.
    Upgrade,
    /// Replaced by an older version.
    Downgrade,
    /// Installed again at the same version.
    Reinstall,
    /// Removed (on Debian, its configuration files stay behind).
    Remove,
    /// Removed together with its configuration files (dpkg only).
    Purge,
}

/// One package's change within a [`Transaction`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PackageChange {
    /// What happened.
    pub action: Action,
    /// The package name, without architecture.
    pub name: String,
    /// The architecture as the package manager spells it (`amd64`, `all`, `x86_64`,
    /// `noarch`); empty when the log does not say (dpkg from before multiarch).
    pub arch: String,
    /// The version before the change; `None` when the package was not there. dpkg logs
    /// the version of leftover configuration files for an `install` over them, and that is
    /// kept.
    pub from: Option<String>,
    /// The version after the change; `None` when the package is gone.
    pub to: Option<String>,
}

/// One run of a package manager, with the package changes it made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Transaction {
    /// `apt:<start time>` / `dpkg:<time>` / `dnf:<id>`
    ///
    /// Times are RFC 3339 in UTC. Two transactions of one tool starting in the same second
    /// (a script running `dpkg -r` twice) get `#2`, `#3`, … appended so ids stay unique.
    pub id: String,
    /// When it started.
    pub start: Timestamp,
    /// When it ended; `None` when the history does not say (apt or dnf killed midway).
    pub end: Option<Timestamp>,
    /// `apt`, `dpkg` (a dpkg run not inside any apt transaction, i.e. made outside apt) or `dnf`
    pub tool: String,
    /// The command line when the history says it (apt `Commandline:`, dnf `Command Line`).
    pub command: Option<String>,
    /// Who ran it (apt `Requested-By:`, dnf `User`): the login name.
    pub user: Option<String>,
    /// The changes, in the order the package manager made (dpkg) or listed (dnf) them.
    pub changes: Vec<PackageChange>,
}

/// How soon after the last line of a dpkg run a `startup packages configure` must come to
/// be part of that run: apt runs `dpkg --unpack` and then `dpkg --configure` for one step,
/// while a configure run much later is someone's `dpkg --configure -a`.
const CONFIGURE_JOINS_WITHIN_SECS: i64 = 2;

/// An apt run killed before writing `End-Date` still owns the dpkg runs that follow its
/// `Start-Date` with no pause longer than this: apt starts its dpkg runs back to back, and
/// only hooks (apt-listchanges, needrestart) sit between them.
const KILLED_APT_PAUSE_SECS: i64 = 60;

/// dpkg.log (concatenated text of `/var/log/dpkg.log*` already decompressed, in any file
/// order) and apt's history.log (concatenated, any order); times in them are the host's
/// local time at `offset` (the host's `date +%z`). Returns the transactions with at least
/// one change whose start >= `since`, oldest first.
///
/// Changes always come from dpkg.log, the record of what dpkg actually did, including
/// runs of `dpkg -i` made directly; apt's own lists are not used. A change whose time falls within an apt
/// run's `[Start-Date, End-Date]` (inclusive, to the second) belongs to that apt
/// transaction; the others are grouped per dpkg run. A dpkg run starts at each `startup`
/// line, except that `startup packages configure` (or `triggers-only`) within
/// two seconds of the previous line continues the run it completes. When two apt runs
/// share a boundary second, a change belongs to the apt run in which its dpkg run started.
/// A package removed and then purged in one transaction is listed once, as purged.
pub fn parse_dpkg(
    dpkg_log: &str,
    apt_history: &str,
    offset: Offset,
    since: Timestamp,
) -> Vec<Transaction> {
    let runs = dpkg_runs(dpkg_log, offset);
    let apt_runs = apt_runs(apt_history, offset);
    let windows = apt_windows(&apt_runs, &runs);

    let mut apt_changes = vec![Vec::new(); apt_runs.len()];
    let mut transactions = Vec::new();
    for run in runs {
        let mut outside_apt = Vec::new();
        for (at, change) in run.changes {
            // A change before `since` can only be part of a transaction that started
            // before it, which is not returned anyway.
            if at < since {
                continue;
            }
            match owning_apt_run(&windows, run.start, at) {
                Some(i) => apt_changes[i].push(change),
                None => outside_apt.push(change),
            }
        }
        if run.start >= since && !outside_apt.is_empty() {
            transactions.push(Transaction {
                id: String::new(),
                start: run.start,
                end: Some(run.end),
                tool: "dpkg".to_owned(),
                command: None,
                user: None,
                changes: fold_remove_purge(outside_apt),
            });
        }
    }
    for (apt, changes) in apt_runs.into_iter().zip(apt_changes) {
        if apt.start >= since && !changes.is_empty() {
            transactions.push(Transaction {
                id: String::new(),
                start: apt.start,
                end: apt.end,
                tool: "apt".to_owned(),
                command: apt.command,
                user: apt.user,
                changes: fold_remove_purge(changes),
            });
        }
    }
    transactions.sort_by_key(|t| t.start);
    assign_time_ids(&mut transactions);
    transactions
}

/// One line of dpkg.log that matters for grouping.
enum DpkgEvent {
    /// A dpkg process started; `completes` when it is a configure (or trigger) pass that
    /// may finish the run just before it.
    Startup { completes: bool },
    /// A package was installed, upgraded, removed or purged.
    Change(PackageChange),
    /// Any other dated line (`status`, `configure`, `trigproc`, `conffile`): the current
    /// run is still going.
    Activity,
}

/// A dpkg process, from its `startup` line to its last line.
struct DpkgRun {
    start: Timestamp,
    end: Timestamp,
    changes: Vec<(Timestamp, PackageChange)>,
}

/// Splits dpkg.log into dpkg runs, oldest first.
fn dpkg_runs(dpkg_log: &str, offset: Offset) -> Vec<DpkgRun> {
    let mut lines: Vec<(Timestamp, DpkgEvent)> = dpkg_log
        .lines()
        .filter_map(|line| parse_dpkg_line(line, offset))
        .collect();
    // Rotated files arrive in any order; the sort is stable, so lines of one second keep
    // the order dpkg wrote them in.
    lines.sort_by_key(|(at, _)| *at);

    let mut runs = Vec::new();
    let mut current: Option<DpkgRun> = None;
    for (at, event) in lines {
        let continues = match event {
            DpkgEvent::Startup { completes } => {
                completes
                    && current.as_ref().is_some_and(|run| {
                        at.as_second() - run.end.as_second() <= CONFIGURE_JOINS_WITHIN_SECS
                    })
            }
            // Lines before any `startup` (the log was rotated mid-run) start a run too.
            DpkgEvent::Change(_) | DpkgEvent::Activity => current.is_some(),
        };
        if !continues {
            runs.extend(current.take());
        }
        let run = current.get_or_insert_with(|| DpkgRun {
            start: at,
            end: at,
            changes: Vec::new(),
        });
        run.end = at;
        if let DpkgEvent::Change(change) = event {
            run.changes.push((at, change));
        }
    }
    runs.extend(current);
    runs
}

/// `2026-12-02 11:33:26 upgrade acme-api:all 1.0 1.1`; `None` for anything malformed.
fn parse_dpkg_line(line: &str, offset: Offset) -> Option<(Timestamp, DpkgEvent)> {
    let mut words = line.split_ascii_whitespace();
    let at = local_time(words.next()?, words.next()?, offset)?;
    let what = words.next()?;
    let args: Vec<&str> = words.collect();
    let event = match (what, args.as_slice()) {
        ("startup", [_, action]) => DpkgEvent::Startup {
            completes: matches!(*action, "configure" | "triggers-only"),
        },
        ("install" | "upgrade" | "remove" | "purge", [package, from, to]) => {
            DpkgEvent::Change(dpkg_change(what, package, from, to)?)
        }
        // Truncated or otherwise damaged.
        ("startup" | "install" | "upgrade" | "remove" | "purge", _) => return None,
        _ => DpkgEvent::Activity,
    };
    Some((at, event))
}

/// The host's local `2026-12-02` and `11:33:26` at `offset`.
fn local_time(date: &str, time: &str, offset: Offset) -> Option<Timestamp> {
    let date = Date::strptime("%Y-%m-%d", date).ok()?;
    let time = Time::strptime("%H:%M:%S", time).ok()?;
    offset.to_timestamp(date.to_datetime(time)).ok()
}

/// A change line's `what package:arch from to`, with `<none>` for no version.
fn dpkg_change(what: &str, package: &str, from: &str, to: &str) -> Option<PackageChange> {
    let (name, arch) = package.split_once(':').unwrap_or((package, ""));
    if name.is_empty() {
        return None;
    }
    let version = |v: &str| (v != "<none>").then(|| v.to_owned());
    let (from, to) = (version(from), version(to));
    let action = match what {
        "install" => Action::Install,
        "upgrade" => replacement_action(from.as_deref(), to.as_deref()),
        "remove" => Action::Remove,
        "purge" => Action::Purge,
        _ => return None,
    };
    Some(PackageChange {
        action,
        name: name.to_owned(),
        arch: arch.to_owned(),
        from,
        to,
    })
}

/// dpkg logs `upgrade` for any replacement of an installed version, older and equal ones
/// included; the versions tell which it was.
fn replacement_action(from: Option<&str>, to: Option<&str>) -> Action {
    let (Some(from), Some(to)) = (from, to) else {
        return Action::Upgrade;
    };
    match version::compare(Kind::Deb, from, to) {
        Ok(Ordering::Less) | Err(_) => Action::Upgrade,
        Ok(Ordering::Greater) => Action::Downgrade,
        Ok(Ordering::Equal) => Action::Reinstall,
    }
}

/// One block of apt's history.log.
struct AptRun {
    start: Timestamp,
    end: Option<Timestamp>,
    command: Option<String>,
    user: Option<String>,
}

/// The blocks of apt's history.log, oldest first; blocks without a readable `Start-Date`
/// are dropped.
fn apt_runs(history: &str, offset: Offset) -> Vec<AptRun> {
    let mut runs = Vec::new();
    let mut current: Option<AptRun> = None;
    for line in history.lines() {
        let Some((key, value)) = line.split_once(':') else {
            if line.trim().is_empty() {
                runs.extend(current.take());
            }
            continue;
        };
        let value = value.trim();
        if key == "Start-Date" {
            // Also ends a block whose blank line was lost to truncation.
            runs.extend(current.take());
            current = apt_time(value, offset).map(|start| AptRun {
                start,
                end: None,
                command: None,
                user: None,
            });
            continue;
        }
        let Some(run) = current.as_mut() else {
            continue;
        };
        match key {
            "End-Date" => run.end = apt_time(value, offset).filter(|end| *end >= run.start),
            "Commandline" => run.command = non_empty(value),
            // `alice (1000)`: the login, without the uid.
            "Requested-By" => run.user = value.split_whitespace().next().map(str::to_owned),
            _ => {}
        }
    }
    runs.extend(current);
    runs.sort_by_key(|run| run.start);
    runs
}

/// apt's `2026-12-02  11:33:25` (two spaces) at `offset`.
fn apt_time(value: &str, offset: Offset) -> Option<Timestamp> {
    let local = DateTime::strptime("%Y-%m-%d %H:%M:%S", value).ok()?;
    offset.to_timestamp(local).ok()
}

fn non_empty(value: &str) -> Option<String> {
    let value = value.trim();
    (!value.is_empty()).then(|| value.to_owned())
}

/// The span of time whose dpkg changes an apt run owns, inclusive.
struct Window {
    start: Timestamp,
    end: Timestamp,
}

/// One window per apt run (same order). A run without `End-Date` was killed; it owns the
/// dpkg runs that follow its start without a long pause, up to the next apt run.
fn apt_windows(apt_runs: &[AptRun], dpkg_runs: &[DpkgRun]) -> Vec<Window> {
    apt_runs
        .iter()
        .enumerate()
        .map(|(i, apt)| {
            let end = apt.end.unwrap_or_else(|| {
                let next_apt = apt_runs.get(i + 1).map(|next| next.start);
                killed_apt_end(apt.start, next_apt, dpkg_runs)
            });
            Window {
                start: apt.start,
                end,
            }
        })
        .collect()
}

fn killed_apt_end(
    start: Timestamp,
    next_apt: Option<Timestamp>,
    dpkg_runs: &[DpkgRun],
) -> Timestamp {
    let first = dpkg_runs.partition_point(|run| run.start < start);
    let mut end = start;
    for run in &dpkg_runs[first..] {
        let pause = run.start.as_second() - end.as_second();
        if next_apt.is_some_and(|next| run.start >= next) || pause > KILLED_APT_PAUSE_SECS {
            break;
        }
        end = end.max(run.end);
    }
    end
}

/// The apt run that owns a change made at `at` by a dpkg run that started at `run_start`:
/// of the windows holding `at`, the latest-starting one that already held `run_start`
/// (windows may share their boundary second), else the earliest.
fn owning_apt_run(windows: &[Window], run_start: Timestamp, at: Timestamp) -> Option<usize> {
    let started = windows.partition_point(|w| w.start <= at);
    let mut earliest = None;
    for i in (0..started).rev().filter(|&i| windows[i].end >= at) {
        if windows[i].start <= run_start {
            return Some(i);
        }
        earliest = Some(i);
    }
    earliest
}

/// dpkg logs a purge as `remove` followed by `purge`; one transaction lists it once.
fn fold_remove_purge(changes: Vec<PackageChange>) -> Vec<PackageChange> {
    let mut folded: Vec<PackageChange> = Vec::with_capacity(changes.len());
    for change in changes {
        if change.action == Action::Purge {
            let earlier = folded
                .iter_mut()
                .rev()
                .find(|c| c.name == change.name && c.arch == change.arch);
            if let Some(earlier) = earlier.filter(|c| c.action == Action::Remove) {
                earlier.action = Action::Purge;
                if earlier.from.is_none() {
                    earlier.from = change.from;
                }
                continue;
            }
        }
        folded.push(change);
    }
    folded
}

/// `tool:start`, with `#n` for the n-th transaction of a tool in the same second.
fn assign_time_ids(transactions: &mut [Transaction]) {
    let mut seen: HashMap<String, u32> = HashMap::new();
    for transaction in transactions {
        let id = format!("{}:{}", transaction.tool, transaction.start);
        let count = seen.entry(id.clone()).or_insert(0);
        *count += 1;
        transaction.id = if *count == 1 {
            id
        } else {
            format!("{id}#{count}")
        };
    }
}

/// `LC_ALL=C TZ=UTC dnf history list` output: (id, start time at minute resolution, UTC).
///
/// In the order listed (dnf lists newest first); the header, the rule and any line that
/// does not parse are skipped.
pub fn parse_dnf_history_list(text: &str) -> Vec<(u64, Timestamp)> {
    text.lines().filter_map(parse_dnf_list_line).collect()
}

/// `     4 | -q -y install acme-api-1 | 2026-12-02 11:33 | Downgrade      |    2 EE`
fn parse_dnf_list_line(line: &str) -> Option<(u64, Timestamp)> {
    let (id, rest) = line.split_once('|')?;
    let id = id.trim().parse().ok()?;
    // From the right, because the command line is free text.
    let mut columns = rest.rsplitn(4, '|');
    let (_altered, _actions, date, _command) = (
        columns.next()?,
        columns.next()?,
        columns.next()?,
        columns.next()?,
    );
    let start = DateTime::strptime("%Y-%m-%d %H:%M", date.trim()).ok()?;
    Some((id, Offset::UTC.to_timestamp(start).ok()?))
}

/// The line the caller's shell loop prints before each `dnf history info`.
const DNF_INFO_MARKER: &str = "@@fearless-tx";

/// Output of a shell loop that printed a line `@@fearless-tx <ID>` and then
/// `LC_ALL=C TZ=UTC dnf history info <ID>` for each id; one [`Transaction`] per id (changes
/// from `Packages Altered:`).
///
/// Oldest first. An id whose output has no readable `Begin time` (dnf failed, or printed
/// something else) is left out; an id printed twice counts once. Upgrade and Upgraded
/// (likewise Downgrade/Downgraded, Reinstall/Reinstalled) pair up by name and arch, then
/// by name alone (an arch change), into one change from the old version to the new.
/// Items dnf marks `**` (not finished) are kept: the rpmdb may well have them, and the
/// missing end time already says the transaction was cut short.
pub fn parse_dnf_history_info(text: &str) -> Vec<Transaction> {
    let mut sections: Vec<(Option<u64>, Vec<&str>)> = Vec::new();
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some(DNF_INFO_MARKER) {
            let id = words.next().and_then(|id| id.parse().ok());
            // A marker without a usable id still ends the section before it.
            sections.push((id.filter(|_| words.next().is_none()), Vec::new()));
        } else if let Some((_, lines)) = sections.last_mut() {
            lines.push(line);
        }
    }
    let mut seen = HashSet::new();
    let mut transactions: Vec<Transaction> = sections
        .into_iter()
        .filter_map(|(id, lines)| {
            let id = id?;
            let transaction = dnf_transaction(id, &lines)?;
            seen.insert(id).then_some(transaction)
        })
        .collect();
    transactions.sort_by_key(|t| t.start);
    transactions
}

/// One `dnf history info` section.
fn dnf_transaction(id: u64, lines: &[&str]) -> Option<Transaction> {
    let mut begin = None;
    let mut end = None;
    let mut user = None;
    let mut command = None;
    let mut altered = Vec::new();
    let mut in_altered = false;
    for line in lines {
        let indented = line.starts_with(char::is_whitespace);
        if in_altered && indented {
            altered.extend(parse_altered_line(line));
            continue;
        }
        in_altered = false;
        // Indented lines of other lists: "Transaction performed with:", scriptlet output.
        if indented {
            continue;
        }
        if line.trim_end() == "Packages Altered:" {
            in_altered = true;
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        // A merged transaction repeats some keys; the first one is this transaction's own.
        match key.trim_end() {
            "Begin time" => begin = begin.or(Some(value)),
            "End time" => end = end.or(Some(value)),
            "User" => user = user.or_else(|| dnf_user(value)),
            "Command Line" => command = command.or_else(|| non_empty(value)),
            _ => {}
        }
    }
    let begin = begin?;
    Some(Transaction {
        id: format!("dnf:{id}"),
        start: ctime_utc(begin)?,
        end: end.and_then(|end| dnf_end_time(end, begin)),
        tool: "dnf".to_owned(),
        command,
        user,
        changes: pair_dnf_changes(altered),
    })
}

/// `%c` in the C locale, `Wed Dec  2 11:33:25 2026`, taken as UTC.
fn ctime_utc(text: &str) -> Option<Timestamp> {
    // A blank in the format matches any run of blanks, so the padded day needs nothing.
    let time = DateTime::strptime("%a %b %d %H:%M:%S %Y", text.trim()).ok()?;
    Offset::UTC.to_timestamp(time).ok()
}

/// `End time` is `%c` followed by `(N seconds)` (or minutes, hours, days). Older dnf
/// blanked out the leading fields that repeat `Begin time`; those come from `begin`.
fn dnf_end_time(end: &str, begin: &str) -> Option<Timestamp> {
    let end = end.split_once('(').map_or(end, |(time, _)| time);
    let end: Vec<&str> = end.split_whitespace().collect();
    let begin: Vec<&str> = begin.split_whitespace().collect();
    let repeated = begin.len().checked_sub(end.len())?;
    let full: Vec<&str> = begin[..repeated].iter().chain(&end).copied().collect();
    ctime_utc(&full.join(" "))
}

/// `root <root>` → `root`; `Alice Liddell <alice>` → `alice`; `System <unset>` (no login
/// session, e.g. a timer) → `None`; a bare uid (user since deleted) as it is.
fn dnf_user(value: &str) -> Option<String> {
    if value.ends_with("<unset>") {
        return None;
    }
    let login = match value.rsplit_once('<') {
        Some((_, login)) => login.strip_suffix('>').unwrap_or(login),
        None => value,
    };
    non_empty(login)
}

/// What a "Packages Altered" line says happened to its package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DnfVerb {
    Install,
    Remove,
    /// The new side of an upgrade, downgrade or reinstall.
    New(Action),
    /// The old side, which the new side names as `from`.
    Old(Action),
}

impl DnfVerb {
    /// dnf's words, plus yum's older ones that dnf still maps (`Update`, `Erase`, …).
    fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "Install" | "Dep-Install" | "True-Install" | "Obsoleting" => DnfVerb::Install,
            "Removed" | "Erase" | "Obsoleted" => DnfVerb::Remove,
            "Upgrade" | "Update" => DnfVerb::New(Action::Upgrade),
            "Upgraded" | "Updated" => DnfVerb::Old(Action::Upgrade),
            "Downgrade" => DnfVerb::New(Action::Downgrade),
            "Downgraded" => DnfVerb::Old(Action::Downgrade),
            "Reinstall" => DnfVerb::New(Action::Reinstall),
            "Reinstalled" => DnfVerb::Old(Action::Reinstall),
            // "Reason Change" and anything unknown: no change to the package itself.
            _ => return None,
        })
    }
}

/// `    Upgrade  acme-api-1.1-1.noarch    @lab`, possibly ` ** `-marked.
fn parse_altered_line(line: &str) -> Option<(DnfVerb, Nevra)> {
    let line = line.trim_start().trim_start_matches("**");
    let mut words = line.split_whitespace();
    let verb = DnfVerb::parse(words.next()?)?;
    let nevra = Nevra::parse(words.next()?)?;
    Some((verb, nevra))
}

/// A package as dnf names it, `name-[epoch:]version-release.arch`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Nevra {
    name: String,
    /// `[epoch:]version-release`, the form dnf and rpm accept back.
    evr: String,
    arch: String,
}

impl Nevra {
    /// Splits from the right, since names may contain dashes and dots: the arch after the
    /// last `.`, the release after the last `-`, the version after the `-` before it.
    fn parse(text: &str) -> Option<Nevra> {
        let (nevr, arch) = text.rsplit_once('.')?;
        let (nev, release) = nevr.rsplit_once('-')?;
        let (name, version) = nev.rsplit_once('-')?;
        let arch_ok =
            !arch.is_empty() && arch.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if name.is_empty() || version.is_empty() || release.is_empty() || !arch_ok {
            return None;
        }
        // Some dnf versions print the epoch before the name (`1:foo-2.0-3.x86_64`).
        let (name, evr) = match name.split_once(':') {
            Some((epoch, name))
                if !epoch.is_empty() && epoch.bytes().all(|b| b.is_ascii_digit()) =>
            {
                (name, format!("{epoch}:{version}-{release}"))
            }
            _ => (name, format!("{version}-{release}")),
        };
        if name.is_empty() || name.contains(':') {
            return None;
        }
        Some(Nevra {
            name: name.to_owned(),
            evr,
            arch: arch.to_owned(),
        })
    }

    fn change(self, action: Action, from: Option<String>, to: Option<String>) -> PackageChange {
        PackageChange {
            action,
            name: self.name,
            arch: self.arch,
            from,
            to,
        }
    }
}

/// Turns the altered list into changes, each new side taking its old side as `from`; old
/// sides left without a partner become changes with no `to`.
fn pair_dnf_changes(items: Vec<(DnfVerb, Nevra)>) -> Vec<PackageChange> {
    let mut olds: Vec<Option<(Action, Nevra)>> = items
        .iter()
        .filter_map(|(verb, nevra)| match verb {
            DnfVerb::Old(action) => Some(Some((*action, nevra.clone()))),
            _ => None,
        })
        .collect();
    let mut changes: Vec<PackageChange> = Vec::with_capacity(items.len());
    for (verb, nevra) in items {
        let change = match verb {
            DnfVerb::Install => {
                let to = Some(nevra.evr.clone());
                nevra.change(Action::Install, None, to)
            }
            DnfVerb::Remove => {
                let from = Some(nevra.evr.clone());
                nevra.change(Action::Remove, from, None)
            }
            DnfVerb::New(action) => {
                let from = take_old(&mut olds, action, &nevra).map(|old| old.evr);
                let to = Some(nevra.evr.clone());
                nevra.change(action, from, to)
            }
            DnfVerb::Old(_) => continue,
        };
        // yum-era histories could list one package under two words.
        if !changes.contains(&change) {
            changes.push(change);
        }
    }
    for (action, old) in olds.into_iter().flatten() {
        let from = Some(old.evr.clone());
        changes.push(old.change(action, from, None));
    }
    changes
}

/// The old side of `new`: same name and arch if there is one, else same name (an arch
/// change such as `i686` to `x86_64`).
fn take_old(olds: &mut [Option<(Action, Nevra)>], action: Action, new: &Nevra) -> Option<Nevra> {
    let partner = |same_arch: bool| {
        move |old: &Option<(Action, Nevra)>| {
            old.as_ref().is_some_and(|(a, old)| {
                *a == action && old.name == new.name && (!same_arch || old.arch == new.arch)
            })
        }
    };
    let i = olds
        .iter()
        .position(partner(true))
        .or_else(|| olds.iter().position(partner(false)))?;
    olds[i].take().map(|(_, old)| old)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse()
            .unwrap_or_else(|e| panic!("bad test timestamp {text}: {e}"))
    }

    fn change(
        action: Action,
        name: &str,
        arch: &str,
        from: Option<&str>,
        to: Option<&str>,
    ) -> PackageChange {
        PackageChange {
            action,
            name: name.to_owned(),
            arch: arch.to_owned(),
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
        }
    }

    /// Hosts in the samples run at +01:00, so local 11:33 is 10:33 UTC.
    fn plus_one() -> Offset {
        Offset::from_hours(1).unwrap_or_else(|e| panic!("{e}"))
    }

    fn long_ago() -> Timestamp {
        ts("2000-01-01T00:00:00Z")
    }

    fn dpkg(log: &str, history: &str) -> Vec<Transaction> {
        parse_dpkg(log, history, plus_one(), long_ago())
    }

    fn summary(transactions: &[Transaction]) -> Vec<(&str, &str, usize)> {
        transactions
            .iter()
            .map(|t| (t.id.as_str(), t.tool.as_str(), t.changes.len()))
            .collect()
    }

    const SAMPLE_DPKG: &str = "\
2026-12-02 11:33:26 startup archives unpack
2026-12-02 11:33:26 install libacme:all <none> 1.0
2026-12-02 11:33:26 upgrade acme-api:all 1.0 1.1
2026-12-02 11:33:26 status half-installed acme-api:all 1.0
2026-12-02 11:33:26 startup packages configure
2026-12-02 11:33:26 configure acme-api:all 1.1 <none>
2026-12-02 11:33:26 status installed acme-api:all 1.1
2026-12-02 11:33:27 startup packages remove
2026-12-02 11:33:27 remove acme-docs:all 1.0 <none>
2026-12-02 11:33:27 startup packages purge
2026-12-02 11:33:27 purge acme-docs:all 1.0 <none>
2026-12-02 11:33:27 trigproc man-db:amd64 2.11.2-2 <none>
";

    const SAMPLE_APT: &str = "
Start-Date: 2026-12-02  11:33:25
Commandline: apt-get -q -y install libacme=1.0 acme-api=1.0
Requested-By: alice (1000)
Install: acme-docs:amd64 (1.0), libacme:amd64 (1.0, automatic)
Upgrade: acme-api:amd64 (1.0, 1.1)
End-Date: 2026-12-02  11:33:26
";

    #[test]
    fn apt_transaction_takes_its_changes_from_dpkg_log() {
        let got = dpkg(SAMPLE_DPKG, SAMPLE_APT);
        assert_eq!(
            got[0],
            Transaction {
                id: "apt:2026-12-02T10:33:25Z".to_owned(),
                start: ts("2026-12-02T10:33:25Z"),
                end: Some(ts("2026-12-02T10:33:26Z")),
                tool: "apt".to_owned(),
                command: Some("apt-get -q -y install libacme=1.0 acme-api=1.0".to_owned()),
                user: Some("alice".to_owned()),
                // Not acme-docs: the apt block says it was installed, dpkg.log does not.
                changes: vec![
                    change(Action::Install, "libacme", "all", None, Some("1.0")),
                    change(Action::Upgrade, "acme-api", "all", Some("1.0"), Some("1.1")),
                ],
            }
        );
        // After End-Date: two separate dpkg runs outside apt, one for each command.
        assert_eq!(
            summary(&got[1..]),
            [
                ("dpkg:2026-12-02T10:33:27Z", "dpkg", 1),
                ("dpkg:2026-12-02T10:33:27Z#2", "dpkg", 1)
            ]
        );
        assert_eq!(
            got[1].changes,
            [change(
                Action::Remove,
                "acme-docs",
                "all",
                Some("1.0"),
                None
            )]
        );
        assert_eq!(
            got[2].changes,
            [change(Action::Purge, "acme-docs", "all", Some("1.0"), None)]
        );
        assert_eq!(
            (got[2].command.as_deref(), got[2].user.as_deref()),
            (None, None)
        );
    }

    #[test]
    fn upgrade_lines_are_told_apart_by_version_order() {
        let log = "\
2026-12-02 09:00:00 startup archives unpack
2026-12-02 09:00:00 upgrade up:amd64 1.0-1 1.0-2
2026-12-02 09:00:00 upgrade down:amd64 1.1 1.0
2026-12-02 09:00:00 upgrade same:amd64 1.0 1.0
2026-12-02 09:00:00 upgrade epoch:amd64 1:0.9 2.0
2026-12-02 09:00:00 upgrade tilde:amd64 1.0 1.0~rc1
2026-12-02 09:00:00 upgrade weird:amd64 not-a-version 1.0
";
        let got = dpkg(log, "");
        let actions: Vec<(&str, Action)> = got[0]
            .changes
            .iter()
            .map(|c| (c.name.as_str(), c.action))
            .collect();
        assert_eq!(
            actions,
            [
                ("up", Action::Upgrade),
                ("down", Action::Downgrade),
                ("same", Action::Reinstall),
                ("epoch", Action::Downgrade),
                ("tilde", Action::Downgrade),
                ("weird", Action::Upgrade),
            ]
        );
    }

    #[test]
    fn remove_then_purge_in_one_transaction_is_one_purge() {
        // `dpkg -P`: one run that logs remove, then purge.
        let log = "\
2026-12-02 09:00:00 startup packages purge
2026-12-02 09:00:00 remove acme-docs:all 1.0 <none>
2026-12-02 09:00:00 remove other:all 2.0 <none>
2026-12-02 09:00:01 purge acme-docs:all 1.0 <none>
";
        let got = dpkg(log, "");
        assert_eq!(
            got[0].changes,
            [
                change(Action::Purge, "acme-docs", "all", Some("1.0"), None),
                change(Action::Remove, "other", "all", Some("2.0"), None),
            ]
        );
    }

    #[test]
    fn remove_and_purge_across_apt_dpkg_runs_fold_too() {
        let log = "\
2026-12-02 09:00:01 startup packages remove
2026-12-02 09:00:01 remove acme-docs:all 1.0 <none>
2026-12-02 09:00:05 startup packages purge
2026-12-02 09:00:05 purge acme-docs:all 1.0 <none>
";
        let apt = "Start-Date: 2026-12-02  09:00:00\nEnd-Date: 2026-12-02  09:00:06\n";
        let got = dpkg(log, apt);
        assert_eq!(summary(&got), [("apt:2026-12-02T08:00:00Z", "apt", 1)]);
        assert_eq!(got[0].changes[0].action, Action::Purge);
    }

    #[test]
    fn purge_of_a_package_removed_earlier_stays_a_purge_of_config_files() {
        let log = "\
2026-12-02 09:00:00 startup packages purge
2026-12-02 09:00:00 install acme-docs:all <none> 1.0
2026-12-02 09:00:00 purge old-conf:all 1.0 <none>
";
        let got = dpkg(log, "");
        assert_eq!(
            got[0].changes[1],
            change(Action::Purge, "old-conf", "all", Some("1.0"), None)
        );
    }

    #[test]
    fn dpkg_run_outside_apt_is_its_own_transaction() {
        let log = format!(
            "{SAMPLE_DPKG}\
2026-12-02 14:00:00 startup archives install
2026-12-02 14:00:00 install handmade:amd64 <none> 0.1
2026-12-02 14:00:01 configure handmade:amd64 0.1 <none>
2026-12-02 14:00:02 status installed handmade:amd64 0.1
"
        );
        let got = dpkg(&log, SAMPLE_APT);
        let last = got.last().unwrap_or_else(|| panic!("no transactions"));
        assert_eq!(
            *last,
            Transaction {
                id: "dpkg:2026-12-02T13:00:00Z".to_owned(),
                start: ts("2026-12-02T13:00:00Z"),
                end: Some(ts("2026-12-02T13:00:02Z")),
                tool: "dpkg".to_owned(),
                command: None,
                user: None,
                changes: vec![change(
                    Action::Install,
                    "handmade",
                    "amd64",
                    None,
                    Some("0.1")
                )],
            }
        );
    }

    #[test]
    fn configure_soon_after_unpack_completes_the_same_run() {
        let unpack = "\
2026-12-02 09:00:00 startup archives unpack
2026-12-02 09:00:00 install a:all <none> 1
2026-12-02 09:00:01 status unpacked a:all 1
";
        let configure_at = |time: &str| {
            format!(
                "{unpack}2026-12-02 {time} startup packages configure\n\
                 2026-12-02 {time} configure a:all 1 <none>\n"
            )
        };
        // Two seconds after the run's last line: the same run, ending with the configure.
        let joined = dpkg(&configure_at("09:00:03"), "");
        assert_eq!(joined.len(), 1);
        assert_eq!(joined[0].end, Some(ts("2026-12-02T08:00:03Z")));
        // Later: someone's `dpkg --configure -a`, a run of its own with no change in it.
        let apart = dpkg(&configure_at("09:00:04"), "");
        assert_eq!(apart.len(), 1);
        assert_eq!(apart[0].end, Some(ts("2026-12-02T08:00:01Z")));
    }

    #[test]
    fn configure_only_runs_are_not_transactions() {
        let log = "\
2026-12-02 09:00:00 startup packages configure
2026-12-02 09:00:00 configure a:all 1 <none>
2026-12-02 09:00:00 status installed a:all 1
";
        assert!(dpkg(log, "").is_empty());
    }

    #[test]
    fn rotated_logs_in_any_order_give_the_same_result() {
        let older_dpkg = "\
2026-11-30 08:00:00 startup archives unpack
2026-11-30 08:00:00 install old:all <none> 1
";
        let older_apt = "\
Start-Date: 2026-11-30  07:59:59
Commandline: apt-get install old
End-Date: 2026-11-30  08:00:01
";
        let in_order = dpkg(
            &format!("{older_dpkg}{SAMPLE_DPKG}"),
            &format!("{older_apt}\n{SAMPLE_APT}"),
        );
        let reversed = dpkg(
            &format!("{SAMPLE_DPKG}{older_dpkg}"),
            &format!("{SAMPLE_APT}\n{older_apt}"),
        );
        assert_eq!(in_order, reversed);
        assert_eq!(
            summary(&in_order)[..2],
            [
                ("apt:2026-11-30T06:59:59Z", "apt", 1),
                ("apt:2026-12-02T10:33:25Z", "apt", 2)
            ]
        );
        // Blocks without the blank line between them (a file cut mid-block) still split.
        let glued = dpkg(
            &format!("{older_dpkg}{SAMPLE_DPKG}"),
            &format!("{older_apt}{}", SAMPLE_APT.trim_start()),
        );
        assert_eq!(glued, in_order);
    }

    #[test]
    fn since_keeps_transactions_that_start_at_or_after_it() {
        let all = dpkg(SAMPLE_DPKG, SAMPLE_APT);
        assert_eq!(all.len(), 3);
        let from = |since: &str| parse_dpkg(SAMPLE_DPKG, SAMPLE_APT, plus_one(), ts(since));
        assert_eq!(from("2026-12-02T10:33:25Z"), all);
        // The apt run started before `since`: its changes after `since` stay its own and
        // do not turn into a dpkg run.
        assert_eq!(from("2026-12-02T10:33:26Z"), all[1..]);
        assert!(from("2026-12-02T10:33:28Z").is_empty());
    }

    #[test]
    fn garbage_and_truncated_lines_are_skipped() {
        let log = "\
garbage
\u{0}\u{1}binary junk
2026-13-45 11:00:00 install ghost:all <none> 1
2026-12-02 25:61:00 install ghost:all <none> 1
2026-12-02 11:3
2026-12-02 11:33:26
2026-12-02 11:33:26 startup archives unpack
2026-12-02 11:33:26 install libacme:all <none> 1.0
2026-12-02 11:33:26 upgrade acme-api:all 1.0
2026-12-02 11:33:26 install :all <none> 1.0
2026-12-02 11:33:26 remove acme-api:all 1.0 <none> extra
2026-12-02 11:33:26 conffile /etc/acme.conf keep
";
        let history = "\
Commandline: orphan line before any block
Start-Date: not a date
Commandline: belongs to the broken block
End-Date: 2026-12-02  11:40:00

Start-Date: 2026-12-02  11:33:25
Commandline: apt-get install libacme
End-Date: 2026-12-02  11:3
";
        let got = dpkg(log, history);
        assert_eq!(summary(&got), [("apt:2026-12-02T10:33:25Z", "apt", 1)]);
        assert_eq!(got[0].command.as_deref(), Some("apt-get install libacme"));
        // The End-Date is unreadable, so apt counts as killed and owns the runs after it.
        assert_eq!(got[0].end, None);
        assert_eq!(got[0].changes[0].name, "libacme");
    }

    #[test]
    fn lines_before_any_startup_form_a_run() {
        // The file starts mid-run: rotation happened while dpkg was running.
        let log = "\
2026-12-02 09:00:00 upgrade a:all 1 2
2026-12-02 09:00:00 status installed a:all 2
";
        let got = dpkg(log, "");
        assert_eq!(summary(&got), [("dpkg:2026-12-02T08:00:00Z", "dpkg", 1)]);
    }

    #[test]
    fn killed_apt_owns_the_runs_that_follow_it_without_a_pause() {
        let log = "\
2026-12-02 09:00:01 startup archives unpack
2026-12-02 09:00:01 install a:all <none> 1
2026-12-02 09:00:30 startup packages remove
2026-12-02 09:00:30 remove b:all 1 <none>
2026-12-02 09:30:00 startup archives install
2026-12-02 09:30:00 install c:all <none> 1
";
        let apt = "Start-Date: 2026-12-02  09:00:00\nCommandline: apt-get dist-upgrade\n";
        let got = dpkg(log, apt);
        assert_eq!(
            summary(&got),
            [
                ("apt:2026-12-02T08:00:00Z", "apt", 2),
                ("dpkg:2026-12-02T08:30:00Z", "dpkg", 1)
            ]
        );
        assert_eq!(got[0].end, None);
    }

    #[test]
    fn killed_apt_stops_at_the_next_apt_run() {
        let log = "\
2026-12-02 09:00:01 startup archives unpack
2026-12-02 09:00:01 install a:all <none> 1
2026-12-02 09:00:10 startup archives unpack
2026-12-02 09:00:10 install b:all <none> 1
";
        let apt = "\
Start-Date: 2026-12-02  09:00:00

Start-Date: 2026-12-02  09:00:09
End-Date: 2026-12-02  09:00:11
";
        let got = dpkg(log, apt);
        assert_eq!(
            summary(&got),
            [
                ("apt:2026-12-02T08:00:00Z", "apt", 1),
                ("apt:2026-12-02T08:00:09Z", "apt", 1)
            ]
        );
    }

    #[test]
    fn shared_boundary_second_goes_to_the_apt_run_that_started_the_dpkg_run() {
        let log = "\
2026-12-02 09:00:03 startup packages remove
2026-12-02 09:00:05 remove x:all 1 <none>
2026-12-02 09:00:05 startup archives unpack
2026-12-02 09:00:05 install y:all <none> 1
";
        let apt = "\
Start-Date: 2026-12-02  09:00:00
Commandline: first
End-Date: 2026-12-02  09:00:05

Start-Date: 2026-12-02  09:00:05
Commandline: second
End-Date: 2026-12-02  09:00:09
";
        let got = dpkg(log, apt);
        let names: Vec<(Option<&str>, &str)> = got
            .iter()
            .map(|t| (t.command.as_deref(), t.changes[0].name.as_str()))
            .collect();
        assert_eq!(names, [(Some("first"), "x"), (Some("second"), "y")]);
    }

    #[test]
    fn requested_by_is_optional() {
        let apt = "Start-Date: 2026-12-02  11:33:25\nEnd-Date: 2026-12-02  11:33:26\n";
        let got = dpkg(SAMPLE_DPKG, apt);
        assert_eq!(
            (got[0].tool.as_str(), got[0].user.as_deref()),
            ("apt", None)
        );
        assert_eq!(got[0].command, None);
    }

    #[test]
    fn without_apt_history_every_run_is_dpkg() {
        let got = dpkg(SAMPLE_DPKG, "");
        assert_eq!(
            summary(&got),
            [
                ("dpkg:2026-12-02T10:33:26Z", "dpkg", 2),
                ("dpkg:2026-12-02T10:33:27Z", "dpkg", 1),
                ("dpkg:2026-12-02T10:33:27Z#2", "dpkg", 1)
            ]
        );
    }

    #[test]
    fn offset_is_applied_to_both_logs() {
        let minus_five = Offset::from_hours(-5).unwrap_or_else(|e| panic!("{e}"));
        let got = parse_dpkg(SAMPLE_DPKG, SAMPLE_APT, minus_five, long_ago());
        assert_eq!(got[0].id, "apt:2026-12-02T16:33:25Z");
        assert_eq!(got[0].changes.len(), 2);
    }

    #[test]
    fn pre_multiarch_lines_have_no_arch() {
        let log = "2026-12-02 09:00:00 startup archives unpack\n2026-12-02 09:00:00 install old <none> 1\n";
        assert_eq!(
            dpkg(log, "")[0].changes,
            [change(Action::Install, "old", "", None, Some("1"))]
        );
    }

    #[test]
    fn actions_serialize_in_lower_case() {
        let json =
            serde_json::to_string(&change(Action::Downgrade, "a", "all", Some("2"), Some("1")))
                .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            json,
            r#"{"action":"downgrade","name":"a","arch":"all","from":"2","to":"1"}"#
        );
    }

    const SAMPLE_DNF_LIST: &str = "\
ID     | Command line             | Date and time    | Action(s)      | Altered
-------------------------------------------------------------------------------
     4 | -q -y install acme-api-1 | 2026-12-02 11:33 | Downgrade      |    2   
     2 | -y install libacme-1.0 a | 2026-12-02 11:33 | Install        |   10   
     1 | -q -y --disablerepo=* in | 2026-12-02 11:33 | Install        |    1   
";

    #[test]
    fn dnf_list_sample() {
        let at = ts("2026-12-02T11:33:00Z");
        assert_eq!(
            parse_dnf_history_list(SAMPLE_DNF_LIST),
            [(4, at), (2, at), (1, at)]
        );
    }

    #[test]
    fn dnf_list_tolerates_marks_pipes_in_commands_and_garbage() {
        let text = "\
ID     | Command line             | Date and time    | Action(s)      | Altered
-------------------------------------------------------------------------------
    12 | upgrade                  | 2026-12-03 00:05 | I, U           |   31 EE
    11 | sh -c 'a|b'              | 2026-12-02 23:59 | Upgrade        |    1  <
    10 |                          | 2026-12-02 23:58 | Removed        |    1 * 
     9 | truncated | 2026-12-0
 bad | x | 2026-12-02 23:58 | Install | 1
";
        assert_eq!(
            parse_dnf_history_list(text),
            [
                (12, ts("2026-12-03T00:05:00Z")),
                (11, ts("2026-12-02T23:59:00Z")),
                (10, ts("2026-12-02T23:58:00Z")),
            ]
        );
    }

    const SAMPLE_DNF_INFO: &str = "\
@@fearless-tx 2
Transaction ID : 2
Begin time     : Wed Dec  2 11:33:25 2026
Begin rpmdb    : 48aa...
End time       : Wed Dec  2 11:33:25 2026 (0 seconds)
End rpmdb      : 4fa6...
User           : root <root>
Return-Code    : Success
Releasever     : 12
Command Line   : -y install libacme-1.0 acme-api-1.0
Comment        : 
Packages Altered:
    Install acme-agent-1.0-1.noarch  @lab
    Upgrade  acme-api-1.1-1.noarch    @lab
    Upgraded acme-api-1.0-1.noarch    @@System
    Downgrade acme-docs-1.0-1.noarch @lab
    Downgraded acme-docs-1.1-1.noarch @@System
    Removed  acme-cli-1.0-1.noarch    @@System
    Reinstall acme-motd-1.0-1.noarch @lab
    Reinstalled acme-motd-1.0-1.noarch @@System
    Obsoleted  foo-1-1.noarch @@System
";

    #[test]
    fn dnf_info_sample() {
        assert_eq!(
            parse_dnf_history_info(SAMPLE_DNF_INFO),
            [Transaction {
                id: "dnf:2".to_owned(),
                start: ts("2026-12-02T11:33:25Z"),
                end: Some(ts("2026-12-02T11:33:25Z")),
                tool: "dnf".to_owned(),
                command: Some("-y install libacme-1.0 acme-api-1.0".to_owned()),
                user: Some("root".to_owned()),
                changes: vec![
                    change(Action::Install, "acme-agent", "noarch", None, Some("1.0-1")),
                    change(
                        Action::Upgrade,
                        "acme-api",
                        "noarch",
                        Some("1.0-1"),
                        Some("1.1-1")
                    ),
                    change(
                        Action::Downgrade,
                        "acme-docs",
                        "noarch",
                        Some("1.1-1"),
                        Some("1.0-1")
                    ),
                    change(Action::Remove, "acme-cli", "noarch", Some("1.0-1"), None),
                    change(
                        Action::Reinstall,
                        "acme-motd",
                        "noarch",
                        Some("1.0-1"),
                        Some("1.0-1")
                    ),
                    change(Action::Remove, "foo", "noarch", Some("1-1"), None),
                ],
            }]
        );
    }

    #[test]
    fn dnf_info_several_ids_oldest_first_with_aborted_and_unset_user() {
        let text = format!(
            "\
@@fearless-tx 7
Transaction ID : 7
Begin time     : Thu Dec  3 08:00:00 2026
User           : System <unset>
Return-Code    : ** Aborted **
Releasever     : 12
Command Line   : 
Transaction performed with:
    Installed     dnf-4.14.0-1.fc38.noarch @updates
    Installed     rpm-4.18.0-1.fc38.x86_64 @fedora
Packages Altered:
 ** Dep-Install libfoo-3-1.x86_64 @lab
 ** Erase       bar-2-1.x86_64     @@System
    Reason Change baz-1-1.noarch   @@System
Scriptlet output:
   1 Install whatever-1-1.noarch (not a package line)
{SAMPLE_DNF_INFO}"
        );
        let got = parse_dnf_history_info(&text);
        assert_eq!(summary(&got), [("dnf:2", "dnf", 6), ("dnf:7", "dnf", 2)]);
        let aborted = &got[1];
        assert_eq!(aborted.start, ts("2026-12-03T08:00:00Z"));
        assert_eq!(
            (
                aborted.end,
                aborted.user.as_deref(),
                aborted.command.as_deref()
            ),
            (None, None, None)
        );
        assert_eq!(
            aborted.changes,
            [
                change(Action::Install, "libfoo", "x86_64", None, Some("3-1")),
                change(Action::Remove, "bar", "x86_64", Some("2-1"), None),
            ]
        );
    }

    #[test]
    fn dnf_nevra_with_epoch_dashes_and_dots() {
        let text = "\
@@fearless-tx 3
Begin time     : Wed Dec 16 23:59:59 2026
End time       : Thu Dec 17 00:03:10 2026 (3 minutes)
User           : Alice Liddell <alice>
Packages Altered:
    Upgrade    python3.11-acme-tools-2:1.0.3-4.el9.x86_64 @lab
    Upgraded   python3.11-acme-tools-1:1.0.2-1.el9.x86_64 @@System
    Install    1:perl-Acme-Thing-0.5-1.el9.noarch         @lab
    Install    not-a-nevra                                @lab
";
        let got = parse_dnf_history_info(text);
        assert_eq!(got[0].end, Some(ts("2026-12-17T00:03:10Z")));
        assert_eq!(got[0].user.as_deref(), Some("alice"));
        assert_eq!(
            got[0].changes,
            [
                change(
                    Action::Upgrade,
                    "python3.11-acme-tools",
                    "x86_64",
                    Some("1:1.0.2-1.el9"),
                    Some("2:1.0.3-4.el9")
                ),
                change(
                    Action::Install,
                    "perl-Acme-Thing",
                    "noarch",
                    None,
                    Some("1:0.5-1.el9")
                ),
            ]
        );
    }

    #[test]
    fn dnf_pairs_multilib_by_arch_and_falls_back_to_name() {
        let text = "\
@@fearless-tx 5
Begin time     : Wed Dec  2 11:33:25 2026
Packages Altered:
    Upgrade    glibc-2.39-2.x86_64 @lab
    Upgrade    glibc-2.39-2.i686   @lab
    Upgrade    acme-1.1-1.x86_64   @lab
    Upgraded   glibc-2.39-1.i686   @@System
    Upgraded   glibc-2.39-1.x86_64 @@System
    Upgraded   acme-1.0-1.i686     @@System
    Downgraded lonely-2-1.noarch   @@System
";
        let got = parse_dnf_history_info(text);
        assert_eq!(
            got[0].changes,
            [
                change(
                    Action::Upgrade,
                    "glibc",
                    "x86_64",
                    Some("2.39-1"),
                    Some("2.39-2")
                ),
                change(
                    Action::Upgrade,
                    "glibc",
                    "i686",
                    Some("2.39-1"),
                    Some("2.39-2")
                ),
                change(
                    Action::Upgrade,
                    "acme",
                    "x86_64",
                    Some("1.0-1"),
                    Some("1.1-1")
                ),
                change(Action::Downgrade, "lonely", "noarch", Some("2-1"), None),
            ]
        );
        assert_eq!(got[0].end, None);
    }

    #[test]
    fn dnf_end_time_with_the_repeated_prefix_blanked() {
        // Older dnf printed only the fields of End time that differ from Begin time.
        let text = "\
@@fearless-tx 1
Begin time     : Wed Dec  2 11:33:25 2026
End time       :            11:35:02 2026 (97 seconds)
";
        assert_eq!(
            parse_dnf_history_info(text)[0].end,
            Some(ts("2026-12-02T11:35:02Z"))
        );
    }

    #[test]
    fn dnf_info_skips_failed_and_repeated_ids() {
        let text = format!(
            "\
leading noise
@@fearless-tx 9
Error: No transaction ID, or package, given
@@fearless-tx
Begin time     : Wed Dec  2 11:00:00 2026
@@fearless-tx nine
Begin time     : Wed Dec  2 11:00:00 2026
{SAMPLE_DNF_INFO}{SAMPLE_DNF_INFO}"
        );
        assert_eq!(
            summary(&parse_dnf_history_info(&text)),
            [("dnf:2", "dnf", 6)]
        );
    }

    #[test]
    fn nevra_is_split_from_the_right() {
        let parse = |text: &str| Nevra::parse(text).map(|n| (n.name, n.evr, n.arch));
        let owned =
            |n: &str, evr: &str, a: &str| Some((n.to_owned(), evr.to_owned(), a.to_owned()));
        assert_eq!(
            parse("acme-agent-1.0-1.noarch"),
            owned("acme-agent", "1.0-1", "noarch")
        );
        assert_eq!(
            parse("foo-1:2.0-3.fc40.x86_64"),
            owned("foo", "1:2.0-3.fc40", "x86_64")
        );
        assert_eq!(
            parse("1:foo-2.0-3.x86_64"),
            owned("foo", "1:2.0-3", "x86_64")
        );
        assert_eq!(parse("foo-bar-1.0-1"), None);
        assert_eq!(parse("foo-1.0.noarch"), None);
        assert_eq!(parse("-1.0-1.noarch"), None);
        assert_eq!(parse("foo-1.0-1."), None);
    }
}
