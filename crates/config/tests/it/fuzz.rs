//! Property tests: whatever bytes or text the loader and the Ansible parsers are given,
//! they never panic and always answer `Ok` or errors that are each located (file, line,
//! column) and free of raw control characters. Inputs are arbitrary bytes, random joins of
//! the formats' own tokens (so the parsers go deep), and random edits of real files.
//! `fuzz/` holds the coverage-guided (AFL) harnesses over the same entry points.

use fearless_config::{ConfigError, Problem};
use proptest::prelude::*;
use std::path::Path;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Every problem located and printable without driving the terminal.
fn well_formed(problems: &[Problem]) -> Result<(), TestCaseError> {
    prop_assert!(!problems.is_empty());
    for p in problems {
        prop_assert!(p.line_col().is_some(), "unlocated: {}", p.plain());
        prop_assert!(
            !p.plain().chars().any(|c| c.is_control() && c != '\n'),
            "control character in {:?}",
            p.plain()
        );
    }
    Ok(())
}

fn check_config(text: String) -> Result<(), TestCaseError> {
    match fearless_config::load_str(Path::new("/fuzz/fearless.yaml"), text) {
        Ok(loaded) => well_formed_warnings(&loaded.warnings),
        Err(ConfigError { problems, .. }) => well_formed(&problems),
    }
}

fn well_formed_warnings(warnings: &[Problem]) -> Result<(), TestCaseError> {
    for w in warnings {
        prop_assert!(w.line_col().is_some(), "unlocated: {}", w.plain());
    }
    Ok(())
}

fn check_ansible(name: &str, text: String) -> Result<(), TestCaseError> {
    match fearless_config::load_ansible_str(&Path::new("/fuzz").join(name), text) {
        Ok(inv) => {
            for h in inv.hosts.values() {
                prop_assert!(h.port >= 1);
                prop_assert!(!h.address.starts_with('-') && !h.user.starts_with('-'));
            }
            Ok(())
        }
        Err(ConfigError { problems, .. }) => well_formed(&problems),
    }
}

/// Text built from `tokens`, so that random input still looks like the format.
fn tokens(pool: &'static [&'static str]) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => prop::sample::select(pool).prop_map(str::to_owned),
            1 => "[a-z0-9_.:-]{1,8}",
            1 => any::<String>().prop_map(|s| s.chars().take(6).collect()),
        ],
        0..64,
    )
    .prop_map(|parts| parts.concat())
}

const YAML_TOKENS: &[&str] = &[
    "inventory:",
    "components:",
    "hosts:",
    "defaults:",
    "import:",
    "checks:",
    "events:",
    "sinks:",
    "routes:",
    "patch:",
    "change:",
    "labels:",
    "runs_on:",
    "depends_on:",
    "external:",
    "port:",
    "address:",
    "user:",
    "name:",
    "http:",
    "tcp:",
    "command:",
    "run:",
    "exit:",
    "url:",
    "headers:",
    "status:",
    "dns:",
    "file:",
    "path:",
    "- ",
    ": ",
    "\n",
    "\n  ",
    "\n    ",
    "\n      ",
    "{",
    "}",
    "[",
    "]",
    ", ",
    "\"",
    "'",
    "&a ",
    "*a",
    "<<: ",
    "~",
    "null",
    "true",
    "22",
    "65536",
    "-1",
    "0",
    "\"{host.address}:22\"",
    "http://u:p@h/",
    "\\0",
    "#",
    "---\n",
    "? ",
    "!!str ",
    "|\n",
    ">\n",
    "\t",
    "%YAML 1.2\n",
];

const INI_TOKENS: &[&str] = &[
    "[web]",
    "[web:vars]",
    "[web:children]",
    "[all:vars]",
    "[g",
    "]",
    "\n",
    " ",
    "\t",
    "web-1",
    "h[1:3]",
    "h[01:10:2]",
    "db-[a:c]",
    "[x:y]",
    ":2222",
    ":",
    "=",
    "ansible_host=",
    "ansible_port=",
    "ansible_user=",
    "ansible_become=true",
    "x=1",
    "\"",
    "'",
    "\\",
    "#",
    ";",
    "---",
    "-o",
    "$(",
    "10.0.0.1",
    "[2001:db8::1]:22",
    "0x10",
    "None",
    "True",
];

const ANSIBLE_YAML_TOKENS: &[&str] = &[
    "all:",
    "hosts:",
    "vars:",
    "children:",
    "plugin:",
    "web:",
    "web-1:",
    "h[1:3]:",
    "\"h:22\":",
    "ansible_host: ",
    "ansible_port: ",
    "ansible_user: ",
    "\n",
    "\n  ",
    "\n    ",
    "\n      ",
    "{",
    "}",
    "[",
    "]",
    ", ",
    "&a ",
    "*a",
    "~",
    "22",
    "abc",
    "-x",
];

fn edits(base: &'static str) -> impl Strategy<Value = String> {
    prop::collection::vec(
        (any::<prop::sample::Index>(), 0..4u8, "[\\PC\n\t]{0,3}"),
        1..8,
    )
    .prop_map(move |ops| {
        let mut s = base.to_owned();
        for (at, op, text) in ops {
            let i = s.floor_char_boundary(at.index(s.len() + 1));
            let j = s.ceil_char_boundary((i + text.len()).min(s.len()));
            match op {
                0 => s.insert_str(i, &text),
                1 => s.replace_range(i..j, ""),
                _ => s.replace_range(i..j, &text),
            }
        }
        s
    })
}

const EXAMPLE: &str = include_str!("../../../../examples/fearless.yaml");
const DOCS_INI: &str = include_str!("../fixtures/ansible/precedence.ini");
const DOCS_YML: &str = include_str!("../fixtures/ansible/docs-groups.yml");

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_loader_takes_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        check_config(String::from_utf8_lossy(&bytes).into_owned())?;
    }

    #[test]
    fn the_loader_takes_any_yaml_shaped_text(text in tokens(YAML_TOKENS)) {
        check_config(text)?;
    }

    #[test]
    fn the_loader_takes_any_edit_of_the_example(text in edits(EXAMPLE)) {
        check_config(text)?;
    }

    #[test]
    fn the_ini_parser_takes_any_text(text in tokens(INI_TOKENS)) {
        check_ansible("hosts.ini", text)?;
    }

    #[test]
    fn the_ini_parser_takes_any_edit_of_a_real_inventory(text in edits(DOCS_INI)) {
        check_ansible("hosts.ini", text)?;
    }

    #[test]
    fn the_yaml_inventory_parser_takes_any_text(text in tokens(ANSIBLE_YAML_TOKENS)) {
        check_ansible("hosts.yml", text)?;
    }

    #[test]
    fn the_yaml_inventory_parser_takes_any_edit_of_a_real_inventory(text in edits(DOCS_YML)) {
        check_ansible("hosts.yml", text)?;
    }

    #[test]
    fn both_inventory_parsers_take_any_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let text = String::from_utf8_lossy(&bytes).into_owned();
        check_ansible("hosts.ini", text.clone())?;
        check_ansible("hosts.yml", text)?;
    }
}
