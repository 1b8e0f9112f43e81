//! From what a rehearsal saw to what broke and why (pure): the causes first — hard-coded
//! interpreters and paths, packages missing, installs that failed, services that do not
//! start, files not carried over — each with the failing checks it explains; then every
//! failing check with its causes; then what differs but works (versions not available).

use std::collections::{BTreeMap, BTreeSet};

use super::host::{Exists, Named, Source, paths_in_log};
use super::report::{
    Action, CheckOutcome, FileOutcome, Finding, Kind, PackageOutcome, ServiceOutcome, Severity,
};

/// What a rehearsal saw.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Observed<'a> {
    /// The role host's name.
    pub(crate) role_host: &'a str,
    /// The new host's name.
    pub(crate) new_host: &'a str,
    /// The role's packages, with what became of them.
    pub(crate) packages: &'a [PackageOutcome],
    /// The package manager's failure, when the transaction failed.
    pub(crate) install_error: Option<&'a str>,
    /// The declared files.
    pub(crate) files: &'a [FileOutcome],
    /// The services started.
    pub(crate) services: &'a [ServiceOutcome],
    /// The paths the role's files name, as scanned on the new host.
    pub(crate) named: &'a [Named],
    /// Which paths exist on the new host.
    pub(crate) on_new: &'a BTreeMap<String, Exists>,
    /// Which paths exist on the role host.
    pub(crate) on_role: &'a BTreeMap<String, Exists>,
    /// The checks.
    pub(crate) checks: &'a [CheckOutcome],
    /// The packages of each component rehearsed.
    pub(crate) component_packages: &'a BTreeMap<String, BTreeSet<String>>,
    /// The files each component declares.
    pub(crate) component_files: &'a BTreeMap<String, Vec<String>>,
    /// What each component depends on.
    pub(crate) depends_on: &'a BTreeMap<String, Vec<String>>,
}

impl Observed<'_> {
    /// The failing checks of the components `package` belongs to.
    fn broken_by_package(&self, package: &str) -> Vec<String> {
        self.failing(|component| {
            self.component_packages
                .get(component)
                .is_some_and(|p| p.contains(package))
        })
    }

    /// The failing checks of the components that declare `file`.
    fn broken_by_file(&self, file: &str) -> Vec<String> {
        self.failing(|component| {
            self.component_files
                .get(component)
                .is_some_and(|f| f.iter().any(|x| x == file))
        })
    }

    fn failing(&self, of: impl Fn(&str) -> bool) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| !c.ok() && of(&c.component))
            .map(CheckOutcome::id)
            .collect()
    }

    /// The log lines of `package`'s services that name one of `needles`.
    fn log_lines(&self, package: &str, needles: &[&str]) -> Vec<String> {
        self.services
            .iter()
            .filter(|s| s.package == package)
            .flat_map(|s| s.log.iter())
            .filter(|l| needles.iter().any(|n| l.contains(n)))
            .cloned()
            .collect()
    }

    /// Whether `path` is gone: it exists on the role host and not on the new one.
    fn gone(&self, path: &str) -> bool {
        self.on_new.get(path).is_some_and(|e| !e.exists)
            && self.on_role.get(path).is_some_and(|e| e.exists)
    }

    /// What the new host has where `path` was, in words.
    fn instead(&self, path: &str) -> String {
        let alts = self
            .on_new
            .get(path)
            .map(|e| e.alternatives.as_slice())
            .unwrap_or_default();
        if alts.is_empty() {
            return String::new();
        }
        let shown: Vec<String> = alts
            .iter()
            .map(|(a, real)| {
                if real.is_empty() || real == a {
                    a.clone()
                } else {
                    format!("{a} → {real}")
                }
            })
            .collect();
        format!("; {} has {}", self.new_host, shown.join(", "))
    }
}

fn finding(
    kind: Kind,
    severity: Severity,
    package: Option<&str>,
    subject: impl Into<String>,
    detail: impl Into<String>,
) -> Finding {
    Finding {
        id: String::new(),
        kind,
        severity,
        package: package.map(str::to_owned),
        subject: subject.into(),
        detail: detail.into(),
        evidence: Vec::new(),
        breaks: Vec::new(),
        caused_by: Vec::new(),
    }
}

/// The last `n` lines of a package manager's failure (its lines joined by ` | `).
fn tail(text: &str, n: usize) -> Vec<String> {
    let parts: Vec<String> = text
        .split(" | ")
        .flat_map(str::lines)
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    parts[parts.len().saturating_sub(n)..].to_vec()
}

/// Give every finding that has none its id, `F` and its place; evidence said twice (a
/// service's log after two starts) is kept once.
fn number(out: &mut [Finding]) {
    for (i, f) in out.iter_mut().enumerate() {
        if f.id.is_empty() {
            f.id = format!("F{}", i + 1);
        }
        let mut seen = BTreeSet::new();
        f.evidence.retain(|e| seen.insert(e.clone()));
    }
}

/// Every finding, with ids (`F1`…) and the causes of each failing check.
pub(crate) fn findings(o: &Observed<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    hard_coded(o, &mut out);
    packages(o, &mut out);
    number(&mut out);
    services(o, &mut out);
    files(o, &mut out);
    number(&mut out);
    let causes = out.len();
    // Every failing check, with the causes that name it.
    let failing: BTreeSet<String> = o
        .checks
        .iter()
        .filter(|c| !c.ok())
        .map(|c| c.component.clone())
        .collect();
    for c in o.checks.iter().filter(|c| !c.ok()) {
        let id = c.id();
        let caused_by: Vec<String> = out[..causes]
            .iter()
            .filter(|f| f.breaks.contains(&id))
            .map(|f| f.id.clone())
            .collect();
        let mut detail = format!(
            "{}{}: {}",
            c.status,
            c.reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default(),
            c.message
        );
        let deps: Vec<&String> = o
            .depends_on
            .get(&c.component)
            .into_iter()
            .flatten()
            .filter(|d| failing.contains(*d))
            .collect();
        if caused_by.is_empty() && !deps.is_empty() {
            detail.push_str(&format!(
                "; {} fails too, which it depends on",
                deps.iter()
                    .map(|d| d.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let mut f = finding(Kind::CheckFailed, Severity::Error, None, id, detail);
        f.caused_by = caused_by;
        out.push(f);
    }
    for p in o.packages {
        if let Action::Closest { version, offered } = &p.action {
            out.push(finding(
                Kind::VersionNotAvailable,
                Severity::Warning,
                Some(&p.name),
                p.name.clone(),
                format!(
                    "{} {} is not offered on {}; the closest offered, {version}, was asked for (offered: {})",
                    p.name,
                    p.role_version,
                    o.new_host,
                    offered.join(", ")
                ),
            ));
        }
    }
    number(&mut out);
    out
}

/// Interpreters and paths the role's files (or its failing services' logs) name that the
/// role host has and the new host does not.
fn hard_coded(o: &Observed<'_>, out: &mut Vec<Finding>) {
    // (package, path) → the files that name it and how
    let mut groups: BTreeMap<(Option<&str>, &str), Vec<&Named>> = BTreeMap::new();
    for n in o.named.iter().filter(|n| o.gone(&n.path)) {
        groups
            .entry((n.package.as_deref(), n.path.as_str()))
            .or_default()
            .push(n);
    }
    for ((package, path), names) in &groups {
        let shebang = names.iter().any(|n| n.source == Source::Shebang);
        let files: Vec<&str> = names
            .iter()
            .map(|n| n.file.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let (kind, detail) = if shebang {
            (
                Kind::HardCodedInterpreter,
                format!(
                    "{} start{} with #!{}: {path} does not exist on {} (it does on {}){}",
                    files.join(", "),
                    if files.len() == 1 { "s" } else { "" },
                    names
                        .iter()
                        .find(|n| n.source == Source::Shebang)
                        .map_or(*path, |n| n.line.as_str()),
                    o.new_host,
                    o.role_host,
                    o.instead(path)
                ),
            )
        } else {
            let how = match names[0].source {
                Source::Exec => "runs",
                _ => "names",
            };
            (
                Kind::HardCodedPath,
                format!(
                    "{} {how} {path}, which does not exist on {} (it does on {}){}",
                    files.join(", "),
                    o.new_host,
                    o.role_host,
                    o.instead(path)
                ),
            )
        };
        let mut f = finding(kind, Severity::Error, *package, *path, detail);
        f.evidence = names
            .iter()
            .map(|n| match n.source {
                Source::Shebang => format!("{}: #!{}", n.file, n.line),
                Source::Exec => format!("{}: ExecStart={}", n.file, n.line),
                Source::Config => format!("{}: names {}", n.file, n.path),
            })
            .collect();
        let mut needles: Vec<&str> = files.clone();
        needles.push(path);
        if let Some(p) = package {
            f.evidence.extend(o.log_lines(p, &needles));
            f.breaks = o.broken_by_package(p);
        } else {
            f.breaks = files.iter().flat_map(|x| o.broken_by_file(x)).collect();
        }
        out.push(f);
    }
    // Paths a failing service's log says are missing, that no file of the role named.
    let scanned: BTreeSet<&str> = o.named.iter().map(|n| n.path.as_str()).collect();
    for s in o.services.iter().filter(|s| !s.running) {
        for path in paths_in_log(&s.log) {
            if scanned.contains(path.as_str()) || !o.gone(&path) {
                continue;
            }
            let mut f = finding(
                Kind::HardCodedPath,
                Severity::Error,
                Some(&s.package),
                path.clone(),
                format!(
                    "the log of {} says {path} is missing; it does not exist on {} (it does on {}){}",
                    s.name,
                    o.new_host,
                    o.role_host,
                    o.instead(&path)
                ),
            );
            f.evidence = s
                .log
                .iter()
                .filter(|l| l.contains(&path))
                .cloned()
                .collect();
            f.breaks = o.broken_by_package(&s.package);
            out.push(f);
        }
    }
}

/// Packages nothing offers, and packages the transaction did not install or configure.
fn packages(o: &Observed<'_>, out: &mut Vec<Finding>) {
    let mut any = false;
    for p in o.packages {
        let wanted = match &p.action {
            Action::Missing { similar } => {
                let mut f = finding(
                    Kind::PackageMissing,
                    Severity::Error,
                    Some(&p.name),
                    p.name.clone(),
                    format!(
                        "{} {} is not offered on {}{}",
                        p.name,
                        p.role_version,
                        o.new_host,
                        if similar.is_empty() {
                            String::new()
                        } else {
                            format!("; similar names there: {}", similar.join(", "))
                        }
                    ),
                );
                f.breaks = o.broken_by_package(&p.name);
                out.push(f);
                continue;
            }
            Action::Exact { version } | Action::Closest { version, .. } => version,
            Action::NewOs { .. } => continue,
        };
        let detail = match (&p.installed, p.unconfigured) {
            (None, _) => format!("{}={wanted} was not installed on {}", p.name, o.new_host),
            (Some(v), true) => format!(
                "{} {v} is unpacked on {} but not configured: its maintainer script failed",
                p.name, o.new_host
            ),
            (Some(_), false) => continue,
        };
        any = true;
        let mut f = finding(
            Kind::InstallFailed,
            Severity::Error,
            Some(&p.name),
            p.name.clone(),
            detail,
        );
        if let Some(e) = o.install_error {
            f.evidence = tail(e, 6);
        }
        f.breaks = o.broken_by_package(&p.name);
        out.push(f);
    }
    if let (Some(e), false) = (o.install_error, any) {
        let mut f = finding(
            Kind::InstallFailed,
            Severity::Error,
            None,
            "the transaction",
            format!("the package manager failed on {}", o.new_host),
        );
        f.evidence = tail(e, 6);
        out.push(f);
    }
}

/// Services that do not run after their start, with the causes found for their package.
fn services(o: &Observed<'_>, out: &mut Vec<Finding>) {
    for s in o.services.iter().filter(|s| !s.running) {
        let detail = if s.missing {
            format!("{} ({}) is not on {}", s.name, s.package, o.new_host)
        } else {
            match s.exit {
                Some(code) => format!(
                    "{} ({}) does not run on {}: its start exited {code}",
                    s.name, s.package, o.new_host
                ),
                None => format!("{} ({}) does not run on {}", s.name, s.package, o.new_host),
            }
        };
        let mut f = finding(
            Kind::ServiceNotStarted,
            Severity::Error,
            Some(&s.package),
            s.name.clone(),
            detail,
        );
        f.evidence = s.log[s.log.len().saturating_sub(8)..].to_vec();
        f.breaks = o.broken_by_package(&s.package);
        f.caused_by = out
            .iter()
            .filter(|c| c.package.as_deref() == Some(s.package.as_str()))
            .map(|c| c.id.clone())
            .collect();
        out.push(f);
    }
}

/// Declared files that were not carried over, or whose owner the new host does not know.
fn files(o: &Observed<'_>, out: &mut Vec<Finding>) {
    for file in o.files {
        let Some(problem) = &file.problem else {
            continue;
        };
        let severity = if file.copied {
            Severity::Warning
        } else {
            Severity::Error
        };
        let mut f = finding(
            Kind::FileNotCopied,
            severity,
            None,
            file.path.clone(),
            format!("{} ({}): {problem}", file.path, file.components.join(", ")),
        );
        if !file.copied {
            f.breaks = o.broken_by_file(&file.path);
        }
        out.push(f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rehearse::report::Why;

    fn check(component: &str, check: &str, ok: bool) -> CheckOutcome {
        CheckOutcome {
            component: component.into(),
            check: check.into(),
            status: if ok { "pass" } else { "fail" }.into(),
            reason: (!ok).then(|| "refused".into()),
            message: if ok { "HTTP 200" } else { "connection refused" }.into(),
        }
    }

    fn exists(yes: bool, alts: &[(&str, &str)]) -> Exists {
        Exists {
            exists: yes,
            alternatives: alts
                .iter()
                .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn a_hard_coded_interpreter_is_named_with_the_checks_it_breaks() {
        let packages = vec![
            PackageOutcome {
                name: "acme-web".into(),
                role_version: "1.0".into(),
                why: Why::Requested,
                action: Action::Exact {
                    version: "1.0".into(),
                },
                installed: Some("1.0".into()),
                unconfigured: true,
            },
            PackageOutcome {
                name: "acme-api".into(),
                role_version: "1.0".into(),
                why: Why::Requested,
                action: Action::Closest {
                    version: "1.1".into(),
                    offered: vec!["1.1".into()],
                },
                installed: Some("1.1".into()),
                unconfigured: false,
            },
        ];
        let services = vec![ServiceOutcome {
            name: "acme-web".into(),
            package: "acme-web".into(),
            running: false,
            exit: Some(2),
            missing: false,
            log: vec!["/var/log/acme/acme-web.log: start-stop-daemon: unable to start /usr/sbin/acme-web (No such file or directory)".into()],
        }];
        let named = vec![Named {
            package: Some("acme-web".into()),
            source: Source::Shebang,
            file: "/usr/sbin/acme-web".into(),
            path: "/usr/bin/python3.11".into(),
            line: "/usr/bin/python3.11".into(),
        }];
        let on_new = BTreeMap::from([
            (
                "/usr/bin/python3.11".to_owned(),
                exists(false, &[("/usr/bin/python3", "/usr/bin/python3.13")]),
            ),
            ("/usr/sbin/acme-web".to_owned(), exists(true, &[])),
        ]);
        let on_role = BTreeMap::from([
            ("/usr/bin/python3.11".to_owned(), exists(true, &[])),
            ("/usr/sbin/acme-web".to_owned(), exists(true, &[])),
        ]);
        let checks = vec![
            check("checkout", "health", false),
            check("checkout", "web process", false),
            check("orders-api", "orders", true),
        ];
        let component_packages = BTreeMap::from([
            (
                "checkout".to_owned(),
                BTreeSet::from(["acme-web".to_owned()]),
            ),
            (
                "orders-api".to_owned(),
                BTreeSet::from(["acme-api".to_owned()]),
            ),
        ]);
        let depends_on = BTreeMap::from([("checkout".to_owned(), vec!["orders-api".to_owned()])]);
        let got = findings(&Observed {
            role_host: "web-1",
            new_host: "rehearse-1",
            packages: &packages,
            install_error: Some(
                "dpkg: error processing package acme-web (--configure): | installed acme-web package post-installation script subprocess returned error exit status 2 | E: Sub-process /usr/bin/dpkg returned an error code (1)",
            ),
            files: &[],
            services: &services,
            named: &named,
            on_new: &on_new,
            on_role: &on_role,
            checks: &checks,
            component_packages: &component_packages,
            component_files: &BTreeMap::new(),
            depends_on: &depends_on,
        });
        let kinds: Vec<(&str, Kind, Severity)> = got
            .iter()
            .map(|f| (f.id.as_str(), f.kind, f.severity))
            .collect();
        assert_eq!(
            kinds,
            [
                ("F1", Kind::HardCodedInterpreter, Severity::Error),
                ("F2", Kind::InstallFailed, Severity::Error),
                ("F3", Kind::ServiceNotStarted, Severity::Error),
                ("F4", Kind::CheckFailed, Severity::Error),
                ("F5", Kind::CheckFailed, Severity::Error),
                ("F6", Kind::VersionNotAvailable, Severity::Warning),
            ]
        );
        let f1 = &got[0];
        assert_eq!(f1.subject, "/usr/bin/python3.11");
        assert_eq!(
            f1.detail,
            "/usr/sbin/acme-web starts with #!/usr/bin/python3.11: /usr/bin/python3.11 does not exist on rehearse-1 (it does on web-1); rehearse-1 has /usr/bin/python3 → /usr/bin/python3.13"
        );
        assert!(
            f1.evidence
                .iter()
                .any(|e| e.contains("unable to start /usr/sbin/acme-web")),
            "{:?}",
            f1.evidence
        );
        assert_eq!(f1.breaks, ["checkout/health", "checkout/web process"]);
        assert_eq!(got[1].evidence.len(), 3);
        assert_eq!(got[3].caused_by, ["F1", "F2", "F3"]);
        assert_eq!(got[3].subject, "checkout/health");
    }

    #[test]
    fn a_failing_check_without_a_cause_points_at_its_failing_dependency() {
        let checks = vec![
            check("checkout", "checkout", false),
            check("orders-api", "orders", false),
        ];
        let depends_on = BTreeMap::from([("checkout".to_owned(), vec!["orders-api".to_owned()])]);
        let got = findings(&Observed {
            role_host: "web-1",
            new_host: "rehearse-1",
            packages: &[],
            install_error: None,
            files: &[FileOutcome {
                path: "/etc/acme/site.conf".into(),
                components: vec!["checkout".into()],
                bytes: None,
                copied: false,
                problem: Some("it does not exist on the role host".into()),
            }],
            services: &[],
            named: &[],
            on_new: &BTreeMap::new(),
            on_role: &BTreeMap::new(),
            checks: &checks,
            component_packages: &BTreeMap::new(),
            component_files: &BTreeMap::from([(
                "checkout".to_owned(),
                vec!["/etc/acme/site.conf".to_owned()],
            )]),
            depends_on: &depends_on,
        });
        assert_eq!(got[0].kind, Kind::FileNotCopied);
        assert_eq!(got[0].breaks, ["checkout/checkout"]);
        assert_eq!(got[1].caused_by, ["F1"]);
        assert!(
            got[2].detail.ends_with("connection refused"),
            "{}",
            got[2].detail
        );
        assert!(got[2].caused_by.is_empty());
    }
}
