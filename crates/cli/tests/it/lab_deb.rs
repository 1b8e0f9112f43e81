//! The Debian package, end to end: `scripts/deb.sh --binary` packages the binary under test
//! (no second build); the package says what it is and holds what it should (a stripped
//! binary, completions, man pages, copyright, md5sums, all owned by root); copied into a lab
//! host over the lab's ssh, it installs with `dpkg -i`, `fearless --version` there names the
//! version and commit of the binary under test, bash loads its completion, and `dpkg -r`
//! takes every file away again. Needs root for the lab (CI runs as root).

use super::{TestLab, fearless, lab_ssh, lab_ssh_run, run_tool, stderr, stdout};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// What the package installs (three of its man pages stand for all of them).
const FILES: &[&str] = &[
    "/usr/bin/fearless",
    "/usr/share/bash-completion/completions/fearless",
    "/usr/share/zsh/vendor-completions/_fearless",
    "/usr/share/fish/vendor_completions.d/fearless.fish",
    "/usr/share/man/man1/fearless.1.gz",
    "/usr/share/man/man1/fearless-patch.1.gz",
    "/usr/share/man/man1/fearless-change-new.1.gz",
    "/usr/share/doc/fearless/copyright",
    "/usr/share/doc/fearless/README.md.gz",
];

/// `scripts/deb.sh ARGS…`, no stdin; its output whatever its end.
fn deb_sh(args: &[&str]) -> Output {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/deb.sh");
    Command::new("bash")
        .arg(script)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run scripts/deb.sh")
}

/// `deb.sh ARGS…`, which must exit 2 saying `needle`, and leave nothing in `out`.
#[track_caller]
fn refused(out: &Path, needle: &str, args: &[&str]) {
    let o = out.display().to_string();
    let mut all = args.to_vec();
    all.extend_from_slice(&["-o", &o]);
    let said = deb_sh(&all);
    assert_eq!(
        said.status.code(),
        Some(2),
        "deb.sh {all:?}: {}",
        stderr(&said)
    );
    assert!(
        stderr(&said).contains(needle),
        "deb.sh {all:?}: no {needle:?} in\n{}",
        stderr(&said)
    );
    assert!(stdout(&said).is_empty(), "{}", stdout(&said));
    let left = std::fs::read_dir(out).map(Iterator::count).unwrap_or(0);
    assert_eq!(left, 0, "deb.sh {all:?} wrote into {o}");
}

/// The fields of the package's control file (`dpkg-deb --field`).
fn control_fields(deb: &Path) -> BTreeMap<String, String> {
    let out = run_tool(
        Command::new("dpkg-deb").arg("--field").arg(deb),
        "dpkg-deb --field",
    );
    let mut fields = BTreeMap::new();
    let mut last = String::new();
    for line in stdout(&out).lines() {
        if let Some(more) = line.strip_prefix(' ') {
            let value: &mut String = fields.entry(last.clone()).or_default();
            value.push('\n');
            value.push_str(more);
        } else if let Some((key, value)) = line.split_once(": ") {
            last = key.to_owned();
            fields.insert(last.clone(), value.to_owned());
        }
    }
    fields
}

/// The section names of an ELF file (`readelf -S`).
fn sections(elf: &Path) -> String {
    stdout(&run_tool(
        Command::new("readelf").args(["-S", "--wide"]).arg(elf),
        "readelf -S",
    ))
}

#[test]
fn deb_script_refuses_bad_options_and_other_binaries() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    refused(&out, "unknown option '--bogus'", &["--bogus"]);
    refused(
        &out,
        "--profile must be dist, release or debug, not 'fast'",
        &["--profile", "fast"],
    );
    refused(&out, "unexpected argument 'now'", &["now"]);
    refused(
        &out,
        "--profile and --binary exclude each other",
        &[
            "--profile",
            "debug",
            "--binary",
            env!("CARGO_BIN_EXE_fearless"),
        ],
    );
    let missing = tmp.path().join("missing");
    refused(
        &out,
        "not an executable file",
        &["--binary", &missing.display().to_string()],
    );
    // Something that is not fearless, and a fearless of another version: never packaged.
    refused(
        &out,
        "not 'fearless VERSION (commit C)'",
        &["--binary", "/bin/true"],
    );
    let other = tmp.path().join("fearless");
    std::fs::write(
        &other,
        "#!/bin/sh\necho 'fearless 9.9.9 (commit 0123456789ab)'\n",
    )
    .expect("write");
    std::fs::set_permissions(&other, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    refused(
        &out,
        &format!(
            "is fearless 9.9.9, but crates/cli/Cargo.toml says {}",
            env!("CARGO_PKG_VERSION")
        ),
        &["--binary", &other.display().to_string()],
    );
    // `-o` with nothing after it, and naming a file
    let said = deb_sh(&["-o"]);
    assert_eq!(said.status.code(), Some(2), "{}", stderr(&said));
    assert!(
        stderr(&said).contains("-o needs a value"),
        "{}",
        stderr(&said)
    );
    let said = deb_sh(&["-o", &other.display().to_string()]);
    assert_eq!(said.status.code(), Some(2), "{}", stderr(&said));
    assert!(
        stderr(&said).contains("not a directory"),
        "{}",
        stderr(&said)
    );
}

#[test]
fn lab_deb_installs_on_a_host_runs_there_and_removes_cleanly() {
    let bin = env!("CARGO_BIN_EXE_fearless");
    let version = env!("CARGO_PKG_VERSION");
    let said = fearless(&["--version"]);
    let version_line = stdout(&said).trim_end().to_owned();
    let commit = version_line
        .strip_prefix(&format!("fearless {version} (commit "))
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("--version: {version_line}"));
    assert!(!commit.is_empty(), "{version_line}");

    // The package, from the binary under test.
    let tmp = tempfile::tempdir().expect("tmp");
    let out_dir = tmp.path().join("debs");
    // --fast: gzip, not xz, which would take a minute or more on the debug binary.
    let out = deb_sh(&[
        "--fast",
        "--binary",
        bin,
        "-o",
        &out_dir.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(0), "deb.sh: {}", stderr(&out));
    let arch = stdout(&run_tool(
        Command::new("dpkg").arg("--print-architecture"),
        "dpkg --print-architecture",
    ))
    .trim()
    .to_owned();
    let deb_version = version.replacen('-', "~", 1);
    let deb = PathBuf::from(stdout(&out).trim_end());
    assert_eq!(
        deb,
        out_dir.join(format!("fearless_{deb_version}_{arch}.deb")),
        "the path printed"
    );
    assert!(deb.is_file(), "{}", deb.display());

    let control = control_fields(&deb);
    let field = |name: &str| -> &str {
        control
            .get(name)
            .unwrap_or_else(|| panic!("no {name} in {control:?}"))
    };
    assert_eq!(field("Package"), "fearless");
    assert_eq!(field("Version"), deb_version);
    assert_eq!(field("Architecture"), arch);
    assert_eq!(field("Recommends"), "openssh-client");
    assert!(
        field("Depends").starts_with("libc6 (>= 2."),
        "Depends: {}",
        field("Depends")
    );
    assert!(field("Maintainer").contains('@'), "{control:?}");
    assert!(
        field("Description").contains('\n'),
        "a long description: {control:?}"
    );

    // Every file owned by root, the binary executable, and stripped where the binary under
    // test is not (the dev profile keeps line tables and symbols).
    let listing = stdout(&run_tool(
        Command::new("dpkg-deb").arg("--contents").arg(&deb),
        "dpkg-deb --contents",
    ));
    for line in listing.lines() {
        assert!(line.contains(" root/root "), "{line}");
    }
    for file in FILES {
        let entry = listing
            .lines()
            .find(|l| l.ends_with(&format!(" .{file}")))
            .unwrap_or_else(|| panic!("{file} not in\n{listing}"));
        let mode = if *file == "/usr/bin/fearless" {
            "-rwxr-xr-x"
        } else {
            "-rw-r--r--"
        };
        assert!(entry.starts_with(mode), "{entry}");
    }
    let unpacked = tmp.path().join("unpacked");
    run_tool(
        Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpacked),
        "dpkg-deb -x",
    );
    let packaged = unpacked.join("usr/bin/fearless");
    // (`.debug_gdb_scripts` is loaded with the program, and strip rightly keeps it.)
    let unstripped = [".symtab", ".strtab", ".debug_info", ".debug_line"];
    let had = sections(Path::new(bin));
    let kept = sections(&packaged);
    for section in unstripped {
        assert!(had.contains(section), "the test's binary has {section}");
        assert!(!kept.contains(section), "{section} not stripped:\n{kept}");
    }
    // man finds the packaged pages where the package puts them (the lab's hosts have no man).
    let found = run_tool(
        Command::new("man")
            .arg("-M")
            .arg(unpacked.join("usr/share/man"))
            .args(["-w", "fearless-patch"]),
        "man -w",
    );
    assert_eq!(
        PathBuf::from(stdout(&found).trim_end()),
        unpacked.join("usr/share/man/man1/fearless-patch.1.gz")
    );
    let installed_kib: u64 = field("Installed-Size").parse().expect("Installed-Size");
    let binary_kib = std::fs::metadata(&packaged).expect("stat").len() / 1024;
    assert!(
        installed_kib >= binary_kib && installed_kib < binary_kib + 2048,
        "Installed-Size {installed_kib} KiB for a binary of {binary_kib} KiB"
    );

    // Into a lab host, over the lab's ssh.
    let lab = TestLab::up(&["--hosts", "1"]);
    let d = lab.dir.as_str();
    let absent = lab_ssh_run(d, "web-1", &["sh", "-c", "command -v fearless"]);
    assert_ne!(absent.status.code(), Some(0), "fearless already on web-1");
    let copied = Command::new(bin)
        .args(["lab", "ssh", "web-1", "--dir", d, "--"])
        .args(["sh", "-c", "cat > /tmp/fearless.deb"])
        .env("NO_COLOR", "1")
        .stdin(std::fs::File::open(&deb).expect("open the .deb"))
        .output()
        .expect("run fearless lab ssh");
    assert_eq!(copied.status.code(), Some(0), "copy: {}", stderr(&copied));
    let size = std::fs::metadata(&deb).expect("stat").len();
    assert_eq!(
        lab_ssh(d, "web-1", "stat -c %s /tmp/fearless.deb").trim(),
        size.to_string()
    );

    lab_ssh(d, "web-1", "dpkg -i /tmp/fearless.deb");
    assert_eq!(
        lab_ssh(d, "web-1", "command -v fearless").trim(),
        "/usr/bin/fearless"
    );
    let there = lab_ssh_run(d, "web-1", &["fearless", "--version"]);
    assert_eq!(there.status.code(), Some(0), "{}", stderr(&there));
    assert_eq!(stdout(&there).trim_end(), version_line, "on web-1");
    assert_eq!(
        lab_ssh(
            d,
            "web-1",
            "dpkg-query -W -f '${Status} ${Version}' fearless"
        ),
        format!("install ok installed {deb_version}")
    );
    // Every file is what the package's md5sums say.
    let sums = lab_ssh(d, "web-1", "cat /var/lib/dpkg/info/fearless.md5sums");
    assert!(
        sums.lines().any(|l| l.ends_with("  usr/bin/fearless")),
        "md5sums: {sums}"
    );
    assert_eq!(lab_ssh(d, "web-1", "dpkg --verify fearless"), "");
    let owned = lab_ssh(d, "web-1", "dpkg -L fearless");
    for file in FILES {
        assert!(owned.lines().any(|l| l == *file), "{file} not in\n{owned}");
    }
    let completion = lab_ssh(
        d,
        "web-1",
        "bash -c '. /usr/share/bash-completion/completions/fearless && complete -p fearless'",
    );
    assert!(completion.contains("fearless"), "{completion}");
    let page = lab_ssh(
        d,
        "web-1",
        "gzip -dc /usr/share/man/man1/fearless-patch.1.gz | grep '^\\.TH'",
    );
    assert!(page.starts_with(".TH fearless-patch 1"), "{page}");
    // man finds the page where man-db is installed (the lab's minimal root has none).
    let man = lab_ssh(
        d,
        "web-1",
        "if command -v man >/dev/null; then man -w fearless; else echo no-man; fi",
    );
    assert!(
        ["/usr/share/man/man1/fearless.1.gz", "no-man"].contains(&man.trim()),
        "man -w fearless: {man}"
    );

    lab_ssh(d, "web-1", "dpkg -r fearless");
    let left = lab_ssh(
        d,
        "web-1",
        &format!(
            "for f in {}; do if [ -e \"$f\" ]; then echo \"$f\"; fi; done",
            FILES.join(" ")
        ),
    );
    assert_eq!(left, "", "left behind by dpkg -r");
    let gone = lab_ssh_run(d, "web-1", &["sh", "-c", "command -v fearless"]);
    assert_ne!(gone.status.code(), Some(0), "{}", stdout(&gone));
    let status = lab_ssh(
        d,
        "web-1",
        "dpkg-query -W -f '${Status}' fearless 2>/dev/null || true",
    );
    assert!(!status.contains("ok installed"), "after dpkg -r: {status}");
}
