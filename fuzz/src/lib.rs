//! What every fuzz target checks, whatever the input: the entry point returns (no panic,
//! no hang — AFL reports both), and an error is a list of problems that are each located
//! (file, line, column) and free of raw control characters; an imported inventory never
//! yields a host whose address or user starts with `-`, or port 0.

use fearless_config::{ConfigError, Problem};
use std::path::Path;

fn check_problems(problems: &[Problem]) {
    assert!(!problems.is_empty(), "an error without problems");
    for p in problems {
        assert!(p.line_col().is_some(), "unlocated problem: {}", p.plain());
        assert!(
            !p.plain().chars().any(|c| c.is_control() && c != '\n'),
            "control character in {:?}",
            p.plain()
        );
    }
}

/// `fearless.yaml` text (bytes decoded lossily, as the bounded reader would refuse them).
pub fn config(data: &[u8]) {
    let text = String::from_utf8_lossy(data).into_owned();
    match fearless_config::load_str(Path::new("/fuzz/fearless.yaml"), text) {
        Ok(loaded) => loaded
            .warnings
            .iter()
            .for_each(|w| assert!(w.line_col().is_some(), "unlocated warning: {}", w.plain())),
        Err(ConfigError { problems, .. }) => check_problems(&problems),
    }
}

/// An Ansible inventory; `name` picks the parser (`hosts.ini` or `hosts.yml`).
pub fn ansible(data: &[u8], name: &str) {
    let text = String::from_utf8_lossy(data).into_owned();
    match fearless_config::load_ansible_str(&Path::new("/fuzz").join(name), text) {
        Ok(inv) => {
            for h in inv.hosts.values() {
                assert!(h.port >= 1, "port 0 for {}", h.name);
                assert!(!h.address.starts_with('-'), "option-like address {}", h.address);
                assert!(!h.user.starts_with('-'), "option-like user {}", h.user);
            }
        }
        Err(ConfigError { problems, .. }) => check_problems(&problems),
    }
}
