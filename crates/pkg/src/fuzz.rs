//! The parsers of text that comes from hosts, as fuzzing entry points (cargo feature
//! `fuzzing`, used by the AFL harness in `fuzz/pkg`; always built for this crate's tests,
//! whose property tests run every parser on generated input).
//!
//! Each [`Parser`] runs one parser on arbitrary text. The contract every one of them keeps:
//! no input makes it panic; it reads what it can and returns it, or a typed error
//! ([`OutputError`], [`crate::manifest::ManifestError`], [`crate::version::VersionError`]).
//! Parsers that read two texts (dpkg.log and apt's history.log; a package list and what
//! dnf says about it) take them split at the first NUL.

use jiff::Timestamp;
use jiff::tz::Offset;

use crate::error::OutputError;
use crate::version::Kind;
use crate::{apt, backend, dnf, history, restart};

/// One parser of outside data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parser {
    /// `dpkg-query -W` and `apt-mark showmanual` ([`apt`]'s installed packages).
    DpkgQuery,
    /// `dpkg-query -W` with the source fields.
    DpkgSources,
    /// `apt-cache madison` and `apt-cache show`, the offered versions with their sources.
    AptOfferedBuilds,
    /// `apt-get -s` (simulate, pending).
    AptSimulate,
    /// `apt-cache madison`.
    AptMadison,
    /// `apt-cache depends`.
    AptDepends,
    /// apt's "It is held by process N (name)".
    AptLockHolder,
    /// The cached-package listing (`dpkg-deb -W` and `rpm -qp` lines).
    CachedFiles,
    /// The history dump: `date +%z`, `@@dpkg`, dpkg.log, `@@apt`, history.log.
    AptHistoryDump,
    /// dpkg.log, NUL, apt's history.log.
    DpkgLog,
    /// `dpkg-query -W` of priorities, dependencies and provides.
    AptRelations,
    /// Paths asked about, NUL, `dpkg-query -S`.
    AptOwners,
    /// `rpm -qa` and dnf's user-installed list.
    RpmQuery,
    /// `rpm -qa` of requires and provides.
    RpmRelations,
    /// Paths asked about, NUL, `PATH\tOWNER` lines of `rpm -qf`.
    RpmOwners,
    /// `rpm -qa` or `dnf repoquery` with the source RPM.
    RpmSources,
    /// `rpm -qa` output, NUL, `dnf repoquery --upgrades` and `updateinfo`.
    DnfPending,
    /// `rpm -qa` output, NUL, the transaction table of `dnf --assumeno`.
    DnfTable,
    /// `dnf repoquery --available`.
    DnfOffered,
    /// A manifest, NUL, `dnf repoquery --requires` per pin.
    DnfRequires,
    /// The stderr of our dnf lock wait.
    DnfLockHolder,
    /// `dnf history list`.
    DnfHistoryList,
    /// `dnf history info` per id.
    DnfHistoryInfo,
    /// The reboot and restart needs, NUL, the restart script's answer.
    Restarts,
    /// `df -Pk`.
    Df,
    /// Package names, one a line (`apt-cache pkgnames`, `rpm -qa`).
    Names,
    /// A `name=version` manifest.
    Manifest,
    /// Two Debian versions, compared.
    DebVersions,
    /// Two RPM versions, compared.
    RpmVersions,
}

impl Parser {
    /// Every parser.
    pub const ALL: [Parser; 29] = [
        Parser::DpkgQuery,
        Parser::DpkgSources,
        Parser::AptOfferedBuilds,
        Parser::AptSimulate,
        Parser::AptMadison,
        Parser::AptDepends,
        Parser::AptLockHolder,
        Parser::AptRelations,
        Parser::AptOwners,
        Parser::CachedFiles,
        Parser::AptHistoryDump,
        Parser::DpkgLog,
        Parser::RpmQuery,
        Parser::RpmRelations,
        Parser::RpmOwners,
        Parser::RpmSources,
        Parser::DnfPending,
        Parser::DnfTable,
        Parser::DnfOffered,
        Parser::DnfRequires,
        Parser::DnfLockHolder,
        Parser::DnfHistoryList,
        Parser::DnfHistoryInfo,
        Parser::Restarts,
        Parser::Df,
        Parser::Names,
        Parser::Manifest,
        Parser::DebVersions,
        Parser::RpmVersions,
    ];

    /// The output of `apt`/`dpkg` commands and of our scripts around them.
    pub const APT: [Parser; 11] = [
        Parser::DpkgQuery,
        Parser::DpkgSources,
        Parser::AptOfferedBuilds,
        Parser::AptSimulate,
        Parser::AptMadison,
        Parser::AptDepends,
        Parser::AptLockHolder,
        Parser::AptRelations,
        Parser::AptOwners,
        Parser::CachedFiles,
        Parser::AptHistoryDump,
    ];

    /// The output of `dnf`/`rpm` commands, and the host's restart needs.
    pub const DNF: [Parser; 12] = [
        Parser::RpmQuery,
        Parser::RpmRelations,
        Parser::RpmOwners,
        Parser::RpmSources,
        Parser::DnfPending,
        Parser::DnfTable,
        Parser::DnfOffered,
        Parser::DnfRequires,
        Parser::DnfLockHolder,
        Parser::Restarts,
        Parser::Df,
        Parser::Names,
    ];

    /// The package managers' own history logs.
    pub const HISTORY: [Parser; 3] = [
        Parser::DpkgLog,
        Parser::DnfHistoryList,
        Parser::DnfHistoryInfo,
    ];

    /// What users write or hosts report as versions: manifests and version strings.
    pub const INPUT: [Parser; 3] = [Parser::Manifest, Parser::DebVersions, Parser::RpmVersions];
}

/// Run the parser `data[0]` picks from `parsers` on the rest of `data`, read as hosts'
/// output is read (lossy UTF-8): the shape of an AFL harness.
pub fn dispatch(parsers: &[Parser], data: &[u8]) {
    if let Some((pick, rest)) = data.split_first()
        && !parsers.is_empty()
    {
        let parser = parsers[usize::from(*pick) % parsers.len()];
        // The result is what the caller would use; here only not panicking counts.
        let _ = run(parser, &String::from_utf8_lossy(rest));
    }
}

/// Run `parser` on `text`: how many items it read, or its error in words.
pub fn run(parser: Parser, text: &str) -> Result<usize, String> {
    let (first, second) = text.split_once('\0').unwrap_or((text, ""));
    let all = Timestamp::MIN;
    let text_error = |e: OutputError| e.to_string();
    Ok(match parser {
        Parser::DpkgQuery => apt::parse_installed(text).map_err(text_error)?.len(),
        Parser::DpkgSources => apt::parse_built(text).map_err(text_error)?.len(),
        Parser::AptOfferedBuilds => apt::parse_offered_builds(text).map_err(text_error)?.len(),
        Parser::RpmSources => dnf::parse_built(text).map_err(text_error)?.len(),
        Parser::AptSimulate => apt::parse_simulation(text).len(),
        Parser::AptMadison => apt::parse_madison(text).len(),
        Parser::AptDepends => apt::parse_depends(text).len(),
        Parser::AptLockHolder => apt::lock_holder(text).map_or(0, |h| h.len()),
        Parser::AptRelations => apt::parse_relations(text).len(),
        Parser::AptOwners => apt::parse_owners(second, &asked(first)).len(),
        Parser::CachedFiles => backend::parse_cached(text).len(),
        Parser::AptHistoryDump => {
            let (offset, dpkg, apt) = apt::split_history_dump(text).map_err(text_error)?;
            history::parse_dpkg(dpkg, apt, offset, all).len()
        }
        Parser::DpkgLog => history::parse_dpkg(first, second, Offset::UTC, all).len(),
        Parser::RpmQuery => dnf::parse_installed(text).map_err(text_error)?.len(),
        Parser::RpmRelations => dnf::parse_relations(text).len(),
        Parser::RpmOwners => dnf::parse_owners(second, &asked(first)).len(),
        Parser::DnfPending => {
            let installed = dnf::parse_installed(first).unwrap_or_default();
            dnf::parse_pending(second, &installed).len()
        }
        Parser::DnfTable => {
            let installed = dnf::parse_installed(first).unwrap_or_default();
            dnf::parse_table(second, &installed).len()
        }
        Parser::DnfOffered => dnf::parse_offered(text).len(),
        Parser::DnfRequires => {
            let manifest = crate::Manifest::parse("fuzz", first).map_err(|e| e.to_string())?;
            dnf::parse_requires(second, &manifest).len()
        }
        Parser::DnfLockHolder => dnf::lock_holder(text).map_or(0, |h| h.len()),
        Parser::DnfHistoryList => history::parse_dnf_history_list(text).len(),
        Parser::DnfHistoryInfo => history::parse_dnf_history_info(text).len(),
        Parser::Restarts => {
            let needs = backend::parse_restarts(first);
            let done = restart::parse(second, &needs);
            needs.processes.len() + done.restarted.len() + done.unowned.len()
        }
        Parser::Df => backend::parse_df(text).map_or(0, |_| 1),
        Parser::Names => backend::parse_names(text).len(),
        Parser::Manifest => crate::Manifest::parse("fuzz", text)
            .map_err(|e| e.to_string())?
            .pins
            .len(),
        Parser::DebVersions => compare(Kind::Deb, first, second)?,
        Parser::RpmVersions => compare(Kind::Rpm, first, second)?,
    })
}

/// The paths an owners query asked about: one a line.
fn asked(text: &str) -> Vec<String> {
    text.lines().map(str::to_owned).collect()
}

/// Parse both versions and compare them both ways; the orderings must agree.
fn compare(kind: Kind, a: &str, b: &str) -> Result<usize, String> {
    let ab = crate::version::compare(kind, a, b).map_err(|e| e.to_string())?;
    let ba = crate::version::compare(kind, b, a).map_err(|e| e.to_string())?;
    if ab != ba.reverse() {
        return Err(format!(
            "{kind} versions {a:?} and {b:?} compare inconsistently"
        ));
    }
    Ok(1)
}

#[cfg(test)]
mod tests {
    //! Every parser on generated input: no panic, and what it returns is true to the text.
    //! The input is a soup of fragments the formats are made of (keywords, markers, dates,
    //! versions, separators) and arbitrary strings, so generated text reaches deep into each
    //! parser instead of failing at its first line. Each property stays well under a second.

    use super::*;
    use proptest::prelude::*;

    /// Pieces of every format these parsers read.
    const FRAGMENTS: &[&str] = &[
        "\n",
        "\n",
        "\n",
        "\t",
        "\t",
        " ",
        "  ",
        ":",
        "|",
        "(",
        ")",
        "[",
        "]",
        "<",
        ">",
        "#",
        "=",
        "-",
        ".",
        "*",
        "\0",
        "\r",
        "ü",
        "✓",
        "<none>",
        "@@manual\n",
        "@@security\n",
        "@@show\n",
        "\n\nPackage: libacme\nVersion: 1.0\n",
        "Source: openssl (3.0.7-1)\n",
        "libacme-1.0-1.src.rpm",
        "@@dpkg\n",
        "@@apt\n",
        "@@fearless-tx 1\n",
        "@@fearless-tx 2\n",
        "@@ ",
        "ii ",
        "rc ",
        "iF ",
        "acme-api",
        "libacme",
        "acme-web:amd64",
        "all",
        "amd64",
        "noarch",
        "x86_64",
        "1.0",
        "1.1",
        "1:2.3~rc1-4+deb12u1",
        "2.36-9",
        "1:3.0.7-17.el9",
        "0",
        "99999999999",
        "+0100",
        "-0530",
        "+9999",
        "2026-12-02 11:33:26 ",
        "2026-12-02 11:33:27 ",
        "2026-13-40 25:61:61 ",
        "9999-12-31 23:59:59 ",
        "startup packages configure",
        "startup archives unpack",
        "install ",
        "upgrade ",
        "remove ",
        "purge ",
        "status installed ",
        "configure ",
        "Start-Date: 2026-12-02  11:33:25",
        "End-Date: 2026-12-02  11:33:28",
        "Commandline: apt-get install acme-api",
        "Requested-By: alice (1000)",
        "Inst ",
        "Remv ",
        "Conf ",
        "(1.1 fearless-lab:lab [all])",
        "[1.0] ",
        "Packages Altered:",
        "    Upgrade  acme-api-1.1-1.noarch    @lab",
        "    Upgraded acme-api-1.0-1.noarch    @@System",
        "    Install  1:foo-2.0-3.x86_64",
        " ** Removed  bar-1-1.noarch",
        "Begin time     : Wed Dec  2 11:33:25 2026",
        "End time       :                   11:33:28 2026 (3 seconds)",
        "User           : root <root>",
        "Command Line   : -y install acme",
        "     4 | -q -y install acme-api-1 | 2026-12-02 11:33 | Downgrade      |    2 EE",
        "Transaction Summary",
        "Upgrading:",
        "Downgrading:",
        "Removing:",
        "Installing dependencies:",
        " acme-api                noarch         1.1-1             lab             1.6 k",
        "     replacing  old-thing.noarch 0.1-1",
        "acme-api\tnoarch\t1.1-1\tlab",
        "RHSA-2023:1234 Important/Sec. openssl-1:3.0.7-17.el9.x86_64",
        "  acme-api |        1.1 | file:/srv/lab-repo ./ Packages",
        "  Depends: python3",
        " |Depends: <mail-transport-agent>",
        "  PreDepends: dpkg",
        "It is held by process 1161 (dpkg)...",
        "held by process 12 (dnf)",
        "exe 12 /usr/bin/python3 (deleted)",
        "exe 13 /usr/sbin/sshd",
        "maps /proc/13/maps",
        "reboot yes /var/run/reboot-required",
        "reboot-pkg libc6",
        "source /proc scan",
        "service acme-web.service",
        "process 12 /usr/bin/x",
        "restarted acme-web",
        "failed db.service",
        "unknown ghost",
        "kept dbus.service",
        "unowned 12",
        "Filesystem 1024-blocks Used Available Capacity Mounted on\n/dev/vda 100 50 50 50% /",
        "acme-api=1.1",
        "libacme:amd64=1:2.0-1",
        "# comment",
    ];

    /// Text made of [`FRAGMENTS`] and arbitrary strings.
    fn soup() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            4 => proptest::sample::select(FRAGMENTS).prop_map(str::to_owned),
            1 => any::<String>(),
        ];
        proptest::collection::vec(piece, 0..60).prop_map(|v| v.concat())
    }

    /// Lines that mostly are pins, with names, architectures and versions close to valid.
    fn manifest_like() -> impl Strategy<Value = String> {
        let line = "[a-z0-9][a-z0-9+.-]{0,10}(:[a-z0-9_]{1,6})?=[0-9][0-9A-Za-z.+~:_-]{0,10}( #.{0,5})?|#.{0,8}|\\PC{0,12}";
        proptest::collection::vec(line, 0..8).prop_map(|v| v.join("\n"))
    }

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 2000,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        /// The whole contract, for every parser: no panic, `Ok` or a typed error.
        #[test]
        fn no_parser_panics_on_any_text(text in soup(), bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            for parser in Parser::ALL {
                let _ = run(parser, &text);
            }
            dispatch(&Parser::ALL, &bytes);
        }

        /// Every package dpkg-query's and rpm's lists yield stands on a line of the text as
        /// it was, field for field.
        #[test]
        fn installed_packages_are_lines_of_the_text(text in soup()) {
            if let Ok(pkgs) = apt::parse_installed(&text) {
                for p in pkgs {
                    let line = format!("\t{}\t{}\t{}", p.name, p.arch, p.version);
                    prop_assert!(text.contains(&line), "{p:?}");
                }
            }
            if let Ok(pkgs) = dnf::parse_installed(&text) {
                for p in pkgs {
                    let line = format!("{}\t{}\t{}", p.name, p.arch, p.version);
                    prop_assert!(text.contains(&line), "{p:?}");
                }
            }
        }

        /// The history dump is split exactly at its markers.
        #[test]
        fn the_history_dump_splits_at_its_markers(text in soup()) {
            if let Ok((_, dpkg, apt)) = apt::split_history_dump(&text) {
                let offset = text.split('\n').next().unwrap_or_default();
                prop_assert_eq!(format!("{offset}\n@@dpkg\n{dpkg}@@apt\n{apt}"), text.clone());
            }
        }

        /// Transactions come oldest first, with unique ids and at least one change each,
        /// every change naming its package; each starts no earlier than asked.
        #[test]
        fn history_transactions_are_ordered_unique_and_non_empty(dpkg in soup(), apt in soup(), dnf in soup(), since_secs in -1_000_000_000i64..2_000_000_000) {
            let since = Timestamp::from_second(since_secs).unwrap_or(Timestamp::MIN);
            let from_dpkg = history::parse_dpkg(&dpkg, &apt, Offset::UTC, since);
            let from_dnf = history::parse_dnf_history_info(&dnf);
            for txs in [&from_dpkg, &from_dnf] {
                prop_assert!(txs.windows(2).all(|w| w[0].start <= w[1].start));
                let ids: std::collections::BTreeSet<&str> = txs.iter().map(|t| t.id.as_str()).collect();
                prop_assert_eq!(ids.len(), txs.len());
            }
            for t in &from_dpkg {
                prop_assert!(t.start >= since);
                prop_assert!(!t.changes.is_empty());
                prop_assert!(t.changes.iter().all(|c| !c.name.is_empty()));
            }
        }

        /// A manifest that parses prints as text that parses back to it.
        #[test]
        fn a_parsed_manifest_round_trips(text in prop_oneof![soup(), manifest_like()]) {
            if let Ok(m) = crate::Manifest::parse("fuzz", &text) {
                let again = crate::Manifest::parse("fuzz", &m.to_text());
                prop_assert_eq!(again.as_ref().ok(), Some(&m), "{:?}", m.to_text());
            }
        }

        /// An offset is read only from `+HHMM`/`-HHMM`.
        #[test]
        fn offsets_read_only_their_own_shape(text in "[+-]?[0-9]{0,5}|\\PC{0,6}") {
            if apt::parse_offset(&text).is_some() {
                let b = text.as_bytes();
                prop_assert!(b.len() == 5 && (b[0] == b'+' || b[0] == b'-'));
                prop_assert!(b[1..].iter().all(u8::is_ascii_digit));
            }
        }
    }

    /// The fragments exercise what they are for: a soup of them reads real records.
    #[test]
    fn the_fragments_reach_every_format() {
        let sample = |parts: &[&str]| parts.concat();
        assert_eq!(
            run(
                Parser::DpkgLog,
                &sample(&[
                    "2026-12-02 11:33:26 ",
                    "startup archives unpack",
                    "\n",
                    "2026-12-02 11:33:27 ",
                    "upgrade ",
                    "acme-web:amd64",
                    " ",
                    "1.0",
                    " ",
                    "1.1",
                    "\n"
                ])
            ),
            Ok(1)
        );
        assert_eq!(
            run(
                Parser::DnfHistoryInfo,
                &sample(&[
                    "@@fearless-tx 1\n",
                    "Begin time     : Wed Dec  2 11:33:25 2026",
                    "\n",
                    "Packages Altered:",
                    "\n",
                    "    Upgrade  acme-api-1.1-1.noarch    @lab",
                    "\n"
                ])
            ),
            Ok(1)
        );
        assert_eq!(run(Parser::Manifest, "acme-api=1.1\n# comment\n"), Ok(1));
        assert!(run(Parser::DpkgQuery, "ii \tx\n").is_err());
        assert_eq!(
            run(Parser::DebVersions, "1:2.3~rc1-4+deb12u1\u{0}2.36-9"),
            Ok(1)
        );
    }
}
