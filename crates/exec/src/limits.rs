//! The process's own limits that bound a large fleet: every ssh master is a child process
//! with its pipes, and every session a few more descriptors, so a controller of 1,000
//! hosts needs far more open files than the usual soft limit of 1,024.

/// The open-files limit before and after [`raise_open_files`]; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFiles {
    /// The soft limit found at start.
    pub was: Option<u64>,
    /// The soft limit now (the hard limit, when raising it worked).
    pub now: Option<u64>,
}

/// Raise this process's soft `RLIMIT_NOFILE` to its hard limit (what any user may do).
/// Children (ssh) inherit it. An error leaves the limit as it was.
pub fn raise_open_files() -> std::io::Result<OpenFiles> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current == limit.maximum {
        return Ok(OpenFiles {
            was: limit.current,
            now: limit.current,
        });
    }
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        },
    )?;
    Ok(OpenFiles {
        was: limit.current,
        now: getrlimit(Resource::Nofile).current,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_soft_limit_becomes_the_hard_one() {
        let raised = raise_open_files().expect("raise");
        let now = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        assert_eq!(raised.now, now.current);
        assert_eq!(now.current, now.maximum);
        assert!(raised.now >= raised.was);
    }
}
