//! The instances behind the endpoint: their ids, their platform, whether their host still
//! exists.

use super::Runner;

/// Whether `id` matches the API's `InstanceId` pattern, `(^i-(\w{8}|\w{17})$)|(^mi-\w{17}$)`
/// (`\w` as Java reads it: ASCII letters, digits and `_`).
pub(crate) fn valid_instance_id(id: &str) -> bool {
    fn word(s: &str, len: usize) -> bool {
        s.len() == len && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
    }
    if let Some(rest) = id.strip_prefix("mi-") {
        return word(rest, 17);
    }
    if let Some(rest) = id.strip_prefix("i-") {
        return word(rest, 8) || word(rest, 17);
    }
    false
}

/// A stable EC2-style instance id for a host name: `i-0` and 16 hex digits of the name's
/// FNV-1a hash, so that a benchmark, a demo configuration and the endpoint agree on a
/// host's id without being told.
pub fn instance_id_for(name: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("i-0{hash:016x}")
}

/// `(state, starttime)` of a process from `/proc/PID/stat`, if it exists.
pub(crate) fn proc_stat(pid: u32) -> Option<(char, u64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid …`: comm may hold spaces and parentheses.
    let rest = stat.get(stat.rfind(')')? + 1..)?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    // starttime is field 22 of stat(5); `state` was field 3.
    let start = fields.nth(18)?.parse().ok()?;
    Some((state, start))
}

/// What the endpoint knows of the host a runner reaches, taken once at start.
#[derive(Debug, Clone)]
pub(crate) struct HostFacts {
    /// For a namespace: the start time of its PID, to tell it from a later process that
    /// reuses the number.
    pub(crate) start_time: Option<u64>,
    /// `NAME` of the host's os-release, as SSM's `PlatformName`.
    pub(crate) platform_name: String,
    /// `VERSION_ID` of the host's os-release, as SSM's `PlatformVersion`.
    pub(crate) platform_version: String,
}

impl HostFacts {
    /// Reads the facts of `runner`'s host; `None` for a namespace whose PID does not exist.
    pub(crate) fn read(runner: Runner) -> Option<Self> {
        let (start_time, os_release) = match runner {
            Runner::Local => (None, "/etc/os-release".to_owned()),
            Runner::Namespace { pid } => {
                let (state, start) = proc_stat(pid)?;
                if state == 'Z' {
                    return None;
                }
                (Some(start), format!("/proc/{pid}/root/etc/os-release"))
            }
        };
        let text = std::fs::read_to_string(os_release).unwrap_or_default();
        Some(Self {
            start_time,
            platform_name: os_release_value(&text, "NAME").unwrap_or_else(|| "Linux".to_owned()),
            platform_version: os_release_value(&text, "VERSION_ID").unwrap_or_default(),
        })
    }

    /// Whether the host still exists: always for `Local`; for a namespace, its PID still
    /// runs (not a zombie) and is the process it was at start.
    pub(crate) fn alive(&self, runner: Runner) -> bool {
        match runner {
            Runner::Local => true,
            Runner::Namespace { pid } => matches!(
                proc_stat(pid),
                Some((state, start)) if state != 'Z' && Some(start) == self.start_time
            ),
        }
    }
}

/// The value of `key` in an os-release text (quotes removed; escapes are not evaluated).
fn os_release_value(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let value = line.trim().strip_prefix(key)?.strip_prefix('=')?;
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        Some(value.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_ids_follow_the_api_pattern() {
        assert!(valid_instance_id("i-0123abcd"));
        assert!(valid_instance_id("i-0123456789abcdef0"));
        assert!(valid_instance_id("mi-0123456789abcdef0"));
        assert!(!valid_instance_id("i-0123456789abcdef"));
        assert!(!valid_instance_id("mi-0123abcd"));
        assert!(!valid_instance_id("web-1"));
        assert!(!valid_instance_id("i-0123-abc"));
        assert!(valid_instance_id(&instance_id_for("web-1")));
        assert_eq!(instance_id_for("web-1"), instance_id_for("web-1"));
        assert_ne!(instance_id_for("web-1"), instance_id_for("web-2"));
    }

    #[test]
    fn os_release_values_lose_their_quotes() {
        let text = "NAME=\"Debian GNU/Linux\"\nVERSION_ID='12'\nID=debian\n";
        assert_eq!(
            os_release_value(text, "NAME").as_deref(),
            Some("Debian GNU/Linux")
        );
        assert_eq!(os_release_value(text, "VERSION_ID").as_deref(), Some("12"));
        assert_eq!(os_release_value(text, "ID").as_deref(), Some("debian"));
        assert_eq!(os_release_value(text, "VERSION"), None);
    }
}
