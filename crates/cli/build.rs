//! Names the commit the binary is built from, for `fearless --version`: `git rev-parse
//! --short=12 HEAD` in a checkout (with `-dirty` when the tree has changes to tracked
//! files), `FEARLESS_COMMIT` from the environment when set (a package build without .git),
//! else `unknown`.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn main() {
    println!("cargo::rerun-if-env-changed=FEARLESS_COMMIT");
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        // a new commit or a checkout moves HEAD or the ref it names
        println!("cargo::rerun-if-changed={dir}/HEAD");
        if let Some(head) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo::rerun-if-changed={dir}/{head}");
        }
    }
    let commit = std::env::var("FEARLESS_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            let id = git(&["rev-parse", "--short=12", "HEAD"])?;
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            Some(if dirty { format!("{id}-dirty") } else { id })
        })
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo::rustc-env=FEARLESS_COMMIT={commit}");
}
