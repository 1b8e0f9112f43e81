//! The lab's RPM repository, for the RPM host (`up --rpm-host`): the acme shop built from
//! the very sources of the `.deb`s into noarch RPMs, with spec files generated from each
//! package's Debian `control`, init scripts and `triggers`, by `rpmbuild`, and indexed by
//! `createrepo_c`.
//!
//! How the Debian packaging maps to RPM:
//! - `Version` stays, `Release` is [`RPM_RELEASE`] (`libacme-1.0-1`);
//! - `Depends` become `Requires` (version relations translated); dependencies outside the
//!   acme shop (`python3`) are provided by [`SYSTEM_PACKAGE`], which stands in the RPM
//!   database for the Debian base system the host is built on;
//! - a package that ships `/etc/init.d/NAME` restarts it in `%post` (install and upgrade,
//!   like `postinst configure`), stops it in `%preun` on erase (like `prerm remove`), and
//!   restarts it in `%postun` after an upgrade or downgrade, once the old version's files
//!   are gone (so `dnf history undo` leaves the service running the files on disk);
//! - a dpkg file trigger (`interest-noawait PATH`) becomes `%transfiletriggerin -- PATH`
//!   that restarts the package's services (acme-api restarts when libacme changes);
//! - a `postinst` that asks for a reboot (writes `/var/run/reboot-required`, as a kernel
//!   update does on Debian) does the same in `%post`.
//!
//! Automatic dependency generation and the build-root policy scripts are off: the RPMs hold
//! exactly the files of the `.deb`.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::catalog::{PackageVersion, RPM_RELEASE};
use crate::error::{LabError, Result};
use crate::{repo, sys};

/// The RPM that stands for the dpkg-managed base system of the RPM host, so that the acme
/// RPMs can require `/bin/sh` (every scriptlet does) and `python3`.
pub(crate) const SYSTEM_PACKAGE: &str = "fearless-lab-system";
/// Its version: the Debian release the RPM host is built on.
pub(crate) const SYSTEM_VERSION: &str = "12";
/// What the base system provides in RPM's eyes.
const SYSTEM_PROVIDES: &[&str] = &["/bin/sh", "/usr/bin/python3", "python3"];

const SPEC_PREAMBLE_END: &str = "%global __os_install_post %{nil}\n%global debug_package %{nil}\n%global _build_id_links none\n";

/// Fails unless `path` can be handed to rpmbuild as a macro value: rpmbuild pastes
/// `_builddir` into the scripts it runs (`cd '…'`), so only plain characters are allowed.
pub(crate) fn check_path(path: &Path) -> Result<()> {
    let text = path.to_string_lossy();
    if text
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-+@".contains(&b))
    {
        Ok(())
    } else {
        Err(LabError::InvalidOptions(format!(
            "the lab directory {text} cannot be used with --rpm-host: rpmbuild needs a path of \
             letters, digits and / . _ - + @ only"
        )))
    }
}

/// Builds `pv` into `repo` as an RPM unless it is already there; returns whether it built.
pub(crate) fn ensure_rpm(pv: PackageVersion, build_dir: &Path, repo: &Path) -> Result<bool> {
    let target = repo.join(pv.rpm_file_name());
    if target.exists() {
        return Ok(false);
    }
    let work = build_dir.join(format!("rpm-{}_{}", pv.name, pv.version));
    sys::remove_tree(&work)?;
    let staging = work.join("root");
    repo::stage(pv, &staging)?;
    let debian = staging.join("DEBIAN");
    let control = read(&debian.join("control"))?;
    let optional = |name: &str| match fs::read_to_string(debian.join(name)) {
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(LabError::io(format!("read the {name} of {pv}"), e)),
    };
    let triggers = optional("triggers")?;
    let asks_reboot = optional("postinst")?.contains(REBOOT_REQUIRED);
    sys::remove_tree(&debian)?;
    let files = files_under(&staging)?;
    let spec_path = work.join(format!("{}.spec", pv.name));
    sys::write_file(
        &spec_path,
        spec(pv, &control, &triggers, asks_reboot, &files).as_bytes(),
        0o644,
    )?;
    let built = rpmbuild(&work, &spec_path, &format!("build package {pv} as an RPM"))?;
    fs::rename(&built, &target).map_err(|e| {
        LabError::io(
            format!("move {} into the RPM repository", target.display()),
            e,
        )
    })?;
    sys::remove_tree(&work)?;
    Ok(true)
}

/// Builds the [`SYSTEM_PACKAGE`] RPM in `build_dir`; returns its path.
pub(crate) fn system_rpm(build_dir: &Path) -> Result<PathBuf> {
    let work = build_dir.join("rpm-system");
    sys::remove_tree(&work)?;
    sys::create_dir_all(&work)?;
    let spec_path = work.join(format!("{SYSTEM_PACKAGE}.spec"));
    sys::write_file(&spec_path, system_spec().as_bytes(), 0o644)?;
    rpmbuild(
        &work,
        &spec_path,
        "build the base-system RPM of the RPM host",
    )
}

/// Regenerates the repository metadata (`repodata/`) of `repo`; every version stays.
pub(crate) fn index(repo: &Path) -> Result<()> {
    // left by a createrepo_c that crashed; we hold the lab lock, so nobody else writes here
    sys::remove_tree(&repo.join(".repodata"))?;
    sys::run(
        Command::new("createrepo_c").arg("--quiet").arg(repo),
        "index the lab RPM repository",
    )
    .map(drop)
}

/// Runs rpmbuild in `work` (`_topdir`, `_builddir` and `_rpmdir` all inside it); returns
/// the one RPM it made.
fn rpmbuild(work: &Path, spec_path: &Path, action: &str) -> Result<PathBuf> {
    // rpmbuild runs inside `work`: every path handed to it must be absolute, or a relative
    // lab dir (the default `.fearless/lab`) would be resolved twice.
    let work = &std::path::absolute(work).unwrap_or_else(|_| work.to_owned());
    let spec_path = &std::path::absolute(spec_path).unwrap_or_else(|_| spec_path.to_owned());
    check_path(work)?;
    let out = work.join("out");
    let define = |name: &str, path: &Path| format!("{name} {}", path.display());
    let output = sys::run(
        Command::new("rpmbuild")
            .args(["--quiet", "-bb", "--define"])
            .arg(define("_topdir", &work.join("top")))
            .arg("--define")
            .arg(define("_builddir", work))
            .arg("--define")
            .arg(define("_rpmdir", &out))
            .arg(spec_path)
            .current_dir(work),
        action,
    )?;
    let noarch = out.join("noarch");
    let built: Vec<PathBuf> = fs::read_dir(&noarch)
        .map_err(|e| LabError::io(format!("read {}", noarch.display()), e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "rpm"))
        .collect();
    match built.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(LabError::Command {
            action: action.to_owned(),
            program: "rpmbuild".into(),
            status: format!("made {} RPMs instead of one", built.len()),
            stderr: sys::lossy(&output.stderr),
        }),
    }
}

fn read(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|e| LabError::io(format!("read {}", path.display()), e))
}

/// Every regular file under `root`, as absolute paths inside the package, sorted.
fn files_under(root: &Path) -> Result<Vec<String>> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<()> {
        let entries =
            fs::read_dir(dir).map_err(|e| LabError::io(format!("read {}", dir.display()), e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                walk(root, &path, out)?;
            } else if let Ok(rel) = path.strip_prefix(root) {
                out.push(format!("/{}", rel.display()));
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, root, &mut out)?;
    out.sort();
    Ok(out)
}

/// The value of `field` in a Debian control file, continuation lines included.
fn control_field(control: &str, field: &str) -> Option<String> {
    let mut lines = control.lines();
    let prefix = format!("{field}:");
    let first = lines.by_ref().find(|l| l.starts_with(&prefix))?;
    let mut value = first[prefix.len()..].trim().to_owned();
    for line in lines.take_while(|l| l.starts_with([' ', '\t'])) {
        value.push('\n');
        value.push_str(line);
    }
    Some(value)
}

/// Debian `Depends` as RPM `Requires` values: `libacme (>= 1.0)` → `libacme >= 1.0`.
fn requires(depends: &str) -> Vec<String> {
    depends
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|dep| {
            let Some((name, relation)) = dep.split_once('(') else {
                return dep.to_owned();
            };
            let relation = relation.trim_end_matches(')').trim();
            let (op, version) = relation
                .split_once(' ')
                .map_or((relation, ""), |(o, v)| (o, v.trim()));
            let op = match op {
                ">>" => ">",
                "<<" => "<",
                other => other,
            };
            format!("{} {op} {version}", name.trim())
        })
        .collect()
}

/// rpm expands `%` everywhere in a spec, descriptions included.
fn escape(text: &str) -> String {
    text.replace('%', "%%")
}

/// The services a package ships: the names of its `/etc/init.d/` scripts.
fn services(files: &[String]) -> Vec<&str> {
    files
        .iter()
        .filter_map(|f| f.strip_prefix("/etc/init.d/"))
        .filter(|name| !name.contains('/'))
        .collect()
}

/// The paths of the dpkg file triggers a package declares (`interest… PATH`).
fn trigger_paths(triggers: &str) -> Vec<&str> {
    triggers
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let kind = words.next()?;
            let path = words.next()?;
            (kind.starts_with("interest") && path.starts_with('/')).then_some(path)
        })
        .collect()
}

/// The flag file a Debian package writes to ask for a reboot.
const REBOOT_REQUIRED: &str = "/var/run/reboot-required";

/// The spec file of `pv`, from its Debian control file, triggers, whether its `postinst`
/// asks for a reboot, and its file list.
fn spec(
    pv: PackageVersion,
    control: &str,
    triggers: &str,
    asks_reboot: bool,
    files: &[String],
) -> String {
    let description = control_field(control, "Description").unwrap_or_default();
    let (summary, long) = description
        .split_once('\n')
        .unwrap_or((description.as_str(), ""));
    let long: Vec<&str> = long
        .lines()
        .map(|l| {
            let l = l.strip_prefix(' ').unwrap_or(l);
            if l == "." { "" } else { l }
        })
        .collect();
    let mut out = format!(
        "Name: {name}\nVersion: {version}\nRelease: {RPM_RELEASE}\nSummary: {summary}\n\
         License: MIT\nBuildArch: noarch\nAutoReqProv: no\n",
        name = pv.name,
        version = pv.version,
        summary = escape(summary.trim()),
    );
    for req in requires(&control_field(control, "Depends").unwrap_or_default()) {
        let _ = writeln!(out, "Requires: {req}");
    }
    out.push_str(SPEC_PREAMBLE_END);
    let _ = write!(
        out,
        "\n%description\n{}\n",
        escape(long.join("\n").trim_end())
    );
    // $RPM_BUILD_ROOT is %{buildroot}; the shell variable keeps the path out of the script text
    out.push_str("\n%install\nmkdir -p \"$RPM_BUILD_ROOT\"\ncp -a root/. \"$RPM_BUILD_ROOT/\"\n");
    let services = services(files);
    let reboot = if asks_reboot {
        format!(
            "\ntouch {REBOOT_REQUIRED}\necho {name} >> {REBOOT_REQUIRED}.pkgs",
            name = pv.name
        )
    } else {
        String::new()
    };
    if services.is_empty() && asks_reboot {
        let _ = writeln!(out, "\n%post{reboot}");
    }
    if !services.is_empty() {
        let each = |command: &str| {
            services
                .iter()
                .map(|s| format!("/etc/init.d/{s} {command}"))
                .collect::<Vec<_>>()
        };
        let _ = write!(
            out,
            "\n%post\n{}{reboot}\n\n%preun\nif [ \"$1\" -eq 0 ]; then\n{}\nfi\n\n\
             %postun\nif [ \"$1\" -ge 1 ]; then\n{}\nfi\n",
            each("restart").join("\n"),
            each("stop || true")
                .iter()
                .map(|l| format!("  {l}"))
                .collect::<Vec<_>>()
                .join("\n"),
            each("restart")
                .iter()
                .map(|l| format!("  {l}"))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        for path in trigger_paths(triggers) {
            let _ = write!(
                out,
                "\n%transfiletriggerin -- {path}\n{}\n",
                each("restart").join("\n")
            );
        }
    }
    out.push_str("\n%files\n");
    for file in files {
        let _ = writeln!(out, "\"{file}\"");
    }
    out
}

/// The spec of [`SYSTEM_PACKAGE`]: no files, only what the base system provides.
fn system_spec() -> String {
    let mut out = format!(
        "Name: {SYSTEM_PACKAGE}\nVersion: {SYSTEM_VERSION}\nRelease: 1\n\
         Summary: the dpkg-managed Debian base system of this fearless lab host\n\
         License: MIT\nBuildArch: noarch\nAutoReqProv: no\n"
    );
    for p in SYSTEM_PROVIDES {
        let _ = writeln!(out, "Provides: {p}");
    }
    out.push_str(SPEC_PREAMBLE_END);
    out.push_str(
        "\n%description\nThe Debian base system this lab host is built on is managed by dpkg;\n\
         this package tells rpm what it provides. The acme shop is managed by rpm only.\n\n%files\n",
    );
    out
}

/// Whether every non-acme dependency of the acme packages is a system provide.
#[cfg(test)]
fn provided_by_system(req: &str) -> bool {
    let name = req.split_whitespace().next().unwrap_or(req);
    crate::catalog::PACKAGES.contains(&name) || SYSTEM_PROVIDES.contains(&name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog;

    const CONTROL: &str = "Package: acme-api\nVersion: 1.0\nArchitecture: all\n\
        Depends: python3, libacme (>= 1.0), acme-x (<< 3)\n\
        Description: acme shop orders API\n Serves 100% of orders.\n .\n Really.\n";

    #[test]
    fn depends_become_requires() {
        assert_eq!(
            requires("python3, libacme (>= 1.0), acme-x (<< 3)"),
            ["python3", "libacme >= 1.0", "acme-x < 3"]
        );
        assert!(requires("").is_empty());
    }

    #[test]
    fn spec_mirrors_the_debian_package() {
        let files = vec![
            "/etc/init.d/acme-api".to_owned(),
            "/usr/sbin/acme-api".to_owned(),
        ];
        let triggers = "# restart\ninterest-noawait /usr/lib/python3/dist-packages/libacme\n";
        let pv = PackageVersion {
            name: "acme-api",
            version: "1.0",
        };
        let text = spec(pv, CONTROL, triggers, false, &files);
        assert!(
            text.starts_with(
                "Name: acme-api\nVersion: 1.0\nRelease: 1\nSummary: acme shop orders API\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("Requires: python3\nRequires: libacme >= 1.0\nRequires: acme-x < 3\n")
        );
        assert!(
            text.contains("%description\nServes 100%% of orders.\n\nReally.\n"),
            "{text}"
        );
        assert!(text.contains("\n%post\n/etc/init.d/acme-api restart\n"));
        assert!(text.contains(
            "%preun\nif [ \"$1\" -eq 0 ]; then\n  /etc/init.d/acme-api stop || true\nfi\n"
        ));
        assert!(
            text.contains(
                "%postun\nif [ \"$1\" -ge 1 ]; then\n  /etc/init.d/acme-api restart\nfi\n"
            )
        );
        assert!(text.contains(
            "%transfiletriggerin -- /usr/lib/python3/dist-packages/libacme\n/etc/init.d/acme-api restart\n"
        ));
        assert!(text.ends_with("%files\n\"/etc/init.d/acme-api\"\n\"/usr/sbin/acme-api\"\n"));
    }

    #[test]
    fn packages_without_services_have_no_scriptlets() {
        let pv = PackageVersion {
            name: "acme-docs",
            version: "1.1",
        };
        let text = spec(
            pv,
            "Package: acme-docs\nDescription: docs\n",
            "",
            false,
            &["/usr/share/doc/acme/x".into()],
        );
        assert!(!text.contains("%post") && !text.contains("%preun") && !text.contains("trigger"));
        assert!(!text.contains("Requires:"));
    }

    #[test]
    fn a_postinst_asking_for_a_reboot_asks_in_post_too() {
        let pv = PackageVersion {
            name: "acme-agent",
            version: "1.2",
        };
        let files = ["/etc/init.d/acme-agent".to_owned()];
        let text = spec(pv, "Package: acme-agent\n", "", true, &files);
        assert!(
            text.contains(
                "\n%post\n/etc/init.d/acme-agent restart\ntouch /var/run/reboot-required\n\
                 echo acme-agent >> /var/run/reboot-required.pkgs\n\n%preun"
            ),
            "{text}"
        );
        let text = spec(pv, "Package: acme-agent\n", "", true, &["/x".to_owned()]);
        assert!(
            text.contains("\n%post\ntouch /var/run/reboot-required\n"),
            "{text}"
        );
        let postinst =
            repo::source_text("acme-agent", "versions/1.2/DEBIAN/postinst").expect("postinst");
        assert!(postinst.contains(REBOOT_REQUIRED));
    }

    #[test]
    fn every_catalogue_dependency_is_an_acme_package_or_a_system_provide() {
        for pv in catalog::all_versions() {
            let control = repo::source_text(pv.name, "DEBIAN/control").expect("control");
            for req in requires(&control_field(&control, "Depends").unwrap_or_default()) {
                assert!(provided_by_system(&req), "{}: {req}", pv.name);
            }
        }
    }

    #[test]
    fn rpm_paths_must_be_plain() {
        assert!(check_path(Path::new("/tmp/.tmpAb3/lab")).is_ok());
        assert!(check_path(Path::new("/srv/my lab")).is_err());
        assert!(check_path(Path::new("/srv/it's")).is_err());
        assert!(check_path(Path::new("/srv/100%")).is_err());
    }
}
