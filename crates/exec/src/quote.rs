//! The one place where argv becomes a remote shell string.
//!
//! `ssh` sends a single string that the remote login shell parses. Every argument is
//! quoted here with POSIX single-quote rules (via `shlex`), so a hostile string —
//! `'; rm -rf /`, `$(id)`, quotes, newlines, unicode — arrives as one verbatim argument.
//! Nothing else in fearless builds a command string from data.

/// An argument that cannot be passed through a shell at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("argument {index} contains a NUL byte, which no shell can carry")]
pub struct QuoteError {
    /// Index of the argument in argv.
    pub index: usize,
}

/// Join `argv` into a string the remote shell parses back into exactly `argv`.
pub fn shell_join<S: AsRef<str>>(argv: &[S]) -> Result<String, QuoteError> {
    let mut out = String::new();
    for (index, arg) in argv.iter().enumerate() {
        let quoted = shlex::try_quote(arg.as_ref()).map_err(|_| QuoteError { index })?;
        if index > 0 {
            out.push(' ');
        }
        out.push_str(&quoted);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Round-trip through a real `sh`: what the shell parses is what we passed.
    #[test]
    fn hostile_strings_survive_a_real_shell() {
        let hostile = [
            "'; rm -rf / #",
            "$(id)",
            "`id`",
            "a\"b'c",
            "line1\nline2",
            "tab\there",
            "ünïcødé ✓",
            "",
            "*",
            "~root",
            "$HOME",
            "\\",
            "-n",
            "a b  c",
        ];
        for s in hostile {
            let cmd = shell_join(&["printf", "%s", s]).expect("quotable");
            let out = std::process::Command::new("sh")
                .arg("-c")
                .arg(&cmd)
                .output()
                .expect("sh runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), s, "via {cmd}");
        }
    }

    #[test]
    fn nul_is_refused() {
        assert_eq!(shell_join(&["echo", "a\0b"]), Err(QuoteError { index: 1 }));
    }
}
