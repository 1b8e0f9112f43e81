//! What program a process runs: its executable, or for an interpreter (Python, Perl, Ruby,
//! Node, PHP, a shell, Java with `-jar`) the script its command line names.
//!
//! A Python service's `exe` is `/usr/bin/python3.11`; what identifies it is the script
//! (`/usr/sbin/acme-api`) — that is what a package owns and what a `process` check names.

/// The suffix the kernel adds to an `exe` link whose file was replaced or removed.
pub const DELETED: &str = " (deleted)";

/// The executable path without the kernel's ` (deleted)` suffix.
pub fn exe_path(exe: &str) -> &str {
    exe.strip_suffix(DELETED).unwrap_or(exe)
}

/// The last component of a path (`/usr/bin/python3.11` → `python3.11`).
pub fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Interpreter families, by the basename of the executable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Python,
    Perl,
    Ruby,
    Node,
    Php,
    Shell,
    Java,
    Other,
}

/// `python3.11` → Python; `bash` → Shell; anything else → `None`.
fn family(exe_base: &str) -> Option<Family> {
    let stem = exe_base.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.' || c == '-');
    Some(match stem {
        "python" | "pypy" => Family::Python,
        "perl" => Family::Perl,
        "ruby" => Family::Ruby,
        "node" | "nodejs" => Family::Node,
        "php" | "php-cli" => Family::Php,
        "sh" | "bash" | "dash" | "ksh" | "mksh" | "zsh" | "ash" => Family::Shell,
        "java" => Family::Java,
        "lua" | "luajit" | "tclsh" | "Rscript" | "guile" | "gawk" | "awk" => Family::Other,
        _ => return None,
    })
}

/// Options of the family that take the next argument as their value (so the value is
/// not the script).
fn takes_value(f: Family, opt: &str) -> bool {
    match f {
        Family::Python => matches!(opt, "-W" | "-X" | "-Q"),
        Family::Perl => matches!(opt, "-I" | "-M" | "-m" | "-x"),
        Family::Ruby => matches!(opt, "-I" | "-r" | "-C" | "-E" | "--encoding"),
        Family::Node => matches!(
            opt,
            "-r" | "--require"
                | "--import"
                | "--loader"
                | "--experimental-loader"
                | "--inspect-port"
        ),
        Family::Php => matches!(opt, "-c" | "-d" | "-z"),
        Family::Shell => matches!(opt, "-o" | "+o" | "-O" | "+O"),
        Family::Java => matches!(
            opt,
            "-cp" | "-classpath" | "--class-path" | "-p" | "--module-path" | "--add-modules"
        ),
        Family::Other => false,
    }
}

/// Options after which the program is inline text, not a file.
fn inline(f: Family, opt: &str) -> bool {
    match f {
        Family::Python => opt == "-c",
        Family::Perl => matches!(opt, "-e" | "-E"),
        Family::Ruby => opt == "-e",
        Family::Node => matches!(opt, "-e" | "--eval" | "-p" | "--print"),
        Family::Php => opt == "-r",
        Family::Shell => opt == "-c" || (opt.starts_with('-') && opt[1..].contains('c')),
        Family::Java | Family::Other => false,
    }
}

/// The program of a process: for an interpreter, the script its command line names
/// (absolute, resolved against `cwd` when relative), a Python module run with `-m`, or a
/// jar run with `-jar`; otherwise its executable (without ` (deleted)`). `None` when
/// neither is known.
pub fn program(exe: Option<&str>, argv: &[String], cwd: Option<&str>) -> Option<String> {
    let exe = exe.map(exe_path);
    let base = exe
        .map(basename)
        .or_else(|| argv.first().map(|a| basename(a)));
    let Some(fam) = base.and_then(family) else {
        return exe.map(str::to_owned);
    };
    let mut args = argv.iter().skip(1).map(String::as_str);
    while let Some(a) = args.next() {
        if a == "--" {
            return args
                .next()
                .map(|s| absolute(s, cwd))
                .or(exe.map(str::to_owned));
        }
        if fam == Family::Python && a == "-m" {
            return args.next().map(str::to_owned).or(exe.map(str::to_owned));
        }
        if fam == Family::Java && a == "-jar" {
            return args
                .next()
                .map(|s| absolute(s, cwd))
                .or(exe.map(str::to_owned));
        }
        if inline(fam, a) {
            return exe.map(str::to_owned);
        }
        if a == "-" {
            return exe.map(str::to_owned);
        }
        if a.starts_with('-') || (fam == Family::Shell && a.starts_with('+')) {
            if takes_value(fam, a) {
                args.next();
            }
            continue;
        }
        // Java: the first plain argument is the main class.
        if fam == Family::Java {
            return Some(a.to_owned());
        }
        return Some(absolute(a, cwd));
    }
    exe.map(str::to_owned)
}

/// `path` made absolute against `cwd` (lexically: `.` dropped, `..` pops), when relative
/// and the directory is known.
fn absolute(path: &str, cwd: Option<&str>) -> String {
    if path.starts_with('/') {
        return normalise(path);
    }
    match cwd {
        Some(dir) if dir.starts_with('/') => normalise(&format!("{dir}/{path}")),
        _ => path.to_owned(),
    }
}

fn normalise(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn interpreters_run_their_script() {
        let py = Some("/usr/bin/python3.11");
        assert_eq!(
            program(py, &argv(&["/usr/bin/python3", "/usr/sbin/acme-api"]), None).as_deref(),
            Some("/usr/sbin/acme-api")
        );
        assert_eq!(
            program(
                py,
                &argv(&["python3", "-u", "-W", "ignore", "app.py"]),
                Some("/srv/app")
            )
            .as_deref(),
            Some("/srv/app/app.py")
        );
        assert_eq!(
            program(py, &argv(&["python3", "-m", "http.server", "8000"]), None).as_deref(),
            Some("http.server")
        );
        assert_eq!(
            program(py, &argv(&["python3", "-c", "print(1)"]), None).as_deref(),
            Some("/usr/bin/python3.11")
        );
        assert_eq!(
            program(
                Some("/usr/bin/dash"),
                &argv(&["/bin/sh", "-e", "/etc/init.d/x", "start"]),
                None
            )
            .as_deref(),
            Some("/etc/init.d/x")
        );
        assert_eq!(
            program(
                Some("/usr/bin/bash"),
                &argv(&["bash", "-lc", "exec foo"]),
                None
            )
            .as_deref(),
            Some("/usr/bin/bash")
        );
        assert_eq!(
            program(
                Some("/usr/lib/jvm/java-17/bin/java"),
                &argv(&["java", "-Xmx1g", "-cp", "a.jar", "-jar", "../svc.jar"]),
                Some("/opt/svc/bin")
            )
            .as_deref(),
            Some("/opt/svc/svc.jar")
        );
        assert_eq!(
            program(
                Some("/usr/bin/node"),
                &argv(&["node", "-r", "dotenv/config", "server.js"]),
                Some("/")
            )
            .as_deref(),
            Some("/server.js")
        );
    }

    #[test]
    fn other_programs_are_their_executable() {
        assert_eq!(
            program(
                Some("/usr/sbin/sshd (deleted)"),
                &argv(&["sshd: root@notty"]),
                None
            )
            .as_deref(),
            Some("/usr/sbin/sshd")
        );
        assert_eq!(program(None, &argv(&["nginx: worker"]), None), None);
        // An interpreter known only by its argv[0] (exe unreadable) still names its script.
        assert_eq!(
            program(None, &argv(&["/usr/bin/python3", "/opt/x.py"]), None).as_deref(),
            Some("/opt/x.py")
        );
        assert_eq!(
            program(Some("/usr/bin/python3.11"), &argv(&["python3"]), None).as_deref(),
            Some("/usr/bin/python3.11")
        );
    }
}
