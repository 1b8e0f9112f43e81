//! Which package owns a program: the queries [`crate::script::PACKAGES_SCRIPT`] is given
//! and the parser of its answer (pure, never panics).
//!
//! `dpkg-query -S` reads its arguments as patterns (`*`, `?`, `[` and `\` are special), so
//! a path holding one is not asked about (nor one with a control character, or the `?`
//! that `ls -q` shows for one); on a merged-`/usr` system dpkg may have recorded `/bin/bash` for
//! what the kernel shows as `/usr/bin/bash`, so that spelling is asked for too.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Which package database answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PackageDb {
    /// dpkg (Debian, Ubuntu).
    Dpkg,
    /// rpm (RHEL, Fedora, Amazon Linux, SUSE).
    Rpm,
    /// Neither was found on the host.
    None,
}

/// The paths one asks about and the argument list that asks for them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Queries {
    /// The positional arguments of the script.
    pub args: Vec<String>,
    /// For each argument, the path it stands for and the spelling dpkg may have recorded.
    pub spellings: Vec<(String, String)>,
}

/// Whether `path` can be asked about: absolute, without control characters and without
/// what dpkg would read as a pattern (`*`, `?`, `[`, `]`, `\`).
pub fn askable(path: &str) -> bool {
    path.starts_with('/')
        && !path
            .chars()
            .any(|c| c.is_control() || matches!(c, '*' | '?' | '[' | ']' | '\\'))
}

/// The queries for `paths` (unaskable ones are left out).
pub fn queries(paths: &[String]) -> Queries {
    let mut q = Queries::default();
    for p in paths.iter().filter(|p| askable(p)) {
        let mut spellings = vec![p.clone()];
        if let Some(short) = p.strip_prefix("/usr")
            && ["/bin/", "/sbin/", "/lib"]
                .iter()
                .any(|d| short.starts_with(d))
        {
            spellings.push(short.to_owned());
        }
        for s in spellings {
            q.args.push(s.clone());
            q.spellings.push((p.clone(), s));
        }
    }
    q
}

/// What the script answered: the database, and the package(s) of each path (a path no
/// package owns maps to an empty list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Which database answered.
    pub db: PackageDb,
    /// Path → owning packages, sorted (empty: owned by none).
    pub owners: BTreeMap<String, Vec<String>>,
}

/// Why the answer could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackagesError {
    /// Neither `@@dpkg`, `@@rpm` nor `@@none` came first.
    #[error("the package query did not run (its first line: {first:?})")]
    NotRun {
        /// The first line, cut.
        first: String,
    },
    /// The answer does not end with `@@end`.
    #[error("the package query's answer is cut short")]
    Truncated,
}

/// Parse the answer to `q`: dpkg's lines are matched against each spelling literally, rpm's
/// by position.
pub fn parse(text: &str, q: &Queries) -> Result<Answer, PackagesError> {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    let db = match first {
        "@@dpkg" => PackageDb::Dpkg,
        "@@rpm" => PackageDb::Rpm,
        "@@none" => {
            return Ok(Answer {
                db: PackageDb::None,
                owners: BTreeMap::new(),
            });
        }
        other => {
            return Err(PackagesError::NotRun {
                first: other.chars().take(80).collect(),
            });
        }
    };
    let body: Vec<&str> = lines.collect();
    if body.last() != Some(&"@@end") {
        return Err(PackagesError::Truncated);
    }
    let body = &body[..body.len() - 1];
    let mut owners: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (path, _) in &q.spellings {
        owners.entry(path.clone()).or_default();
    }
    match db {
        PackageDb::Dpkg => {
            for line in body {
                // `diversion by X from: PATH` / `to: PATH` say who diverted, not who owns.
                if line.starts_with("diversion by ") {
                    continue;
                }
                for (path, spelling) in &q.spellings {
                    let Some(pkgs) = line
                        .strip_suffix(spelling.as_str())
                        .and_then(|l| l.strip_suffix(": "))
                    else {
                        continue;
                    };
                    let list = owners.entry(path.clone()).or_default();
                    for pkg in pkgs.split(", ") {
                        // Multi-arch: `libc6:amd64`.
                        let name = pkg.split(':').next().unwrap_or(pkg).trim();
                        if !name.is_empty() && !list.iter().any(|p| p == name) {
                            list.push(name.to_owned());
                        }
                    }
                }
            }
        }
        PackageDb::Rpm => {
            let mut at: Option<usize> = None;
            for line in body {
                if let Some(n) = line.strip_prefix("@@") {
                    at = n.parse::<usize>().ok().and_then(|i| i.checked_sub(1));
                    continue;
                }
                let Some((path, _)) = at.and_then(|i| q.spellings.get(i)) else {
                    continue;
                };
                let name = line.trim();
                if name.is_empty() || name.contains(' ') {
                    continue;
                }
                let list = owners.entry(path.clone()).or_default();
                if !list.iter().any(|p| p == name) {
                    list.push(name.to_owned());
                }
            }
        }
        PackageDb::None => {}
    }
    for list in owners.values_mut() {
        list.sort();
    }
    Ok(Answer { db, owners })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn dpkg_answers_map_back_to_the_paths_asked() {
        let q = queries(&paths(&[
            "/usr/bin/bash",
            "/usr/sbin/acme-api",
            "/opt/x?y",
            "relative",
            "/usr/lib/x86_64-linux-gnu/libc.so.6",
            "/srv/own",
        ]));
        assert_eq!(
            q.args,
            [
                "/usr/bin/bash",
                "/bin/bash",
                "/usr/sbin/acme-api",
                "/sbin/acme-api",
                "/usr/lib/x86_64-linux-gnu/libc.so.6",
                "/lib/x86_64-linux-gnu/libc.so.6",
                "/srv/own"
            ]
        );
        let text = "@@dpkg\nbash: /bin/bash\nacme-api: /usr/sbin/acme-api\nlibc6:amd64, libc6-dbg: /lib/x86_64-linux-gnu/libc.so.6\ndiversion by x from: /srv/own\n@@end\n";
        let a = parse(text, &q).expect("answer");
        assert_eq!(a.db, PackageDb::Dpkg);
        assert_eq!(a.owners["/usr/bin/bash"], ["bash"]);
        assert_eq!(a.owners["/usr/sbin/acme-api"], ["acme-api"]);
        assert_eq!(
            a.owners["/usr/lib/x86_64-linux-gnu/libc.so.6"],
            ["libc6", "libc6-dbg"]
        );
        assert!(a.owners["/srv/own"].is_empty());
        assert!(!askable("/a*b") && !askable("/a[b]") && !askable("/a\\b") && !askable("/a\nb"));
    }

    #[test]
    fn rpm_answers_are_per_position() {
        let q = queries(&paths(&["/usr/sbin/sshd", "/opt/app"]));
        let text = "@@rpm\n@@1\nopenssh-server\n@@2\n@@3\nacme\n@@end\n";
        let a = parse(text, &q).expect("answer");
        assert_eq!(a.owners["/usr/sbin/sshd"], ["openssh-server"]);
        assert_eq!(a.owners["/opt/app"], ["acme"]);
    }

    #[test]
    fn other_answers_are_errors_or_nothing() {
        let q = queries(&paths(&["/bin/x"]));
        assert!(matches!(
            parse("sh: 1: oops\n", &q),
            Err(PackagesError::NotRun { .. })
        ));
        assert_eq!(
            parse("@@dpkg\nbash: /bin/x\n", &q),
            Err(PackagesError::Truncated)
        );
        assert_eq!(parse("@@none\n", &q).expect("none").db, PackageDb::None);
        assert_eq!(parse("", &q).map(|a| a.db).ok(), None);
    }
}
