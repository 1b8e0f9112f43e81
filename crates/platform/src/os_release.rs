//! `/etc/os-release` (os-release(5)): shell-like `KEY=value` lines, read as data — never
//! evaluated — into an [`OsRelease`], and the release it names in the support table
//! ([`OsRelease::release`]).

use serde::{Deserialize, Serialize};

/// What a host's os-release says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OsRelease {
    /// `ID` (`debian`, `ubuntu`, `amzn`, `rhel`, `rocky`, `almalinux`, `centos`), lower case.
    pub id: String,
    /// `ID_LIKE`, split on spaces.
    pub id_like: Vec<String>,
    /// `NAME` (`Debian GNU/Linux`).
    pub name: Option<String>,
    /// `VERSION_ID` (`12`, `22.04`, `2023`, `9.4`).
    pub version_id: Option<String>,
    /// `VERSION_CODENAME` (`bookworm`, `jammy`), when the distribution has one.
    pub codename: Option<String>,
    /// `PRETTY_NAME`.
    pub pretty_name: Option<String>,
}

/// Why a text is not an os-release file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OsReleaseError {
    /// A line that is neither blank, a comment nor `KEY=value`.
    #[error("line {line}: not KEY=value: {shown:?}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// The line, cut to 80 characters.
        shown: String,
    },
    /// A value whose quotes do not close.
    #[error("line {line}: the quote of {key} does not close")]
    Unclosed {
        /// 1-based line number.
        line: usize,
        /// The key.
        key: String,
    },
    /// No `ID` (os-release(5) defaults it to `linux`, which names no release fearless knows).
    #[error("no ID= line: not an os-release file")]
    NoId,
}

/// The release of a product in the support table: `("debian", "12")`, `("rhel", "9")`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Release {
    /// The product as the table names it (`debian`, `ubuntu`, `amazon-linux`, `rhel`,
    /// `rocky-linux`, `almalinux`, `centos`), else the os-release `ID`.
    pub product: String,
    /// The release cycle (`12`, `22.04`, `2023`, `9`); `None` when the host does not say
    /// (Debian testing and unstable have no `VERSION_ID`).
    pub cycle: Option<String>,
}

impl std::fmt::Display for Release {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.cycle {
            Some(c) => write!(f, "{} {c}", self.product),
            None => write!(f, "{} (no version)", self.product),
        }
    }
}

/// Parse an os-release text. Unknown keys are ignored; a line that is not `KEY=value` is
/// an error with its number (a file that is not os-release must not be half-read).
pub fn parse(text: &str) -> Result<OsRelease, OsReleaseError> {
    let mut os = OsRelease::default();
    let mut id = None;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let malformed = || OsReleaseError::Malformed {
            line: i + 1,
            shown: raw.chars().take(80).collect(),
        };
        let (key, value) = line.split_once('=').ok_or_else(malformed)?;
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(malformed());
        }
        let value = unquote(value).ok_or_else(|| OsReleaseError::Unclosed {
            line: i + 1,
            key: key.to_owned(),
        })?;
        let value = Some(value).filter(|v| !v.is_empty());
        match key {
            "ID" => id = value.map(|v| v.to_ascii_lowercase()),
            "ID_LIKE" => {
                os.id_like = value
                    .map(|v| v.split_whitespace().map(str::to_ascii_lowercase).collect())
                    .unwrap_or_default();
            }
            "NAME" => os.name = value,
            "VERSION_ID" => os.version_id = value,
            "VERSION_CODENAME" => os.codename = value,
            "PRETTY_NAME" => os.pretty_name = value,
            _ => {}
        }
    }
    os.id = id.ok_or(OsReleaseError::NoId)?;
    Ok(os)
}

/// A value as os-release(5) writes it: bare, or in single or double quotes (double quotes
/// take `\"`, `\\`, `` \` `` and `\$` escapes). `None` when a quote does not close.
fn unquote(value: &str) -> Option<String> {
    let mut chars = value.chars();
    match chars.next() {
        Some(q @ ('"' | '\'')) => {
            let mut out = String::new();
            let mut closed = false;
            while let Some(c) = chars.next() {
                if c == q {
                    closed = true;
                    break;
                }
                if c == '\\' && q == '"' {
                    match chars.next() {
                        Some(e @ ('"' | '\\' | '`' | '$')) => out.push(e),
                        Some(other) => {
                            out.push('\\');
                            out.push(other);
                        }
                        None => return None,
                    }
                } else {
                    out.push(c);
                }
            }
            closed.then_some(out)
        }
        _ => Some(value.to_owned()),
    }
}

impl OsRelease {
    /// The release this names in the support table. The product follows the `ID`;
    /// the cycle is `VERSION_ID` for Debian, Ubuntu and Amazon Linux, and its major
    /// version for the RHEL family (`9.4` → `9`), whose support is by major release.
    pub fn release(&self) -> Release {
        let product = match self.id.as_str() {
            "amzn" => "amazon-linux",
            "rocky" => "rocky-linux",
            "ol" => "oracle-linux",
            other => other,
        }
        .to_owned();
        let by_major = matches!(
            self.id.as_str(),
            "rhel" | "rocky" | "almalinux" | "centos" | "ol"
        );
        let cycle = self.version_id.as_ref().map(|v| {
            if by_major {
                v.split('.').next().unwrap_or(v).to_owned()
            } else {
                v.clone()
            }
        });
        Release { product, cycle }
    }

    /// `Debian GNU/Linux 12 (bookworm)`: the pretty name, else `ID VERSION_ID`.
    pub fn display(&self) -> String {
        self.pretty_name.clone().unwrap_or_else(|| {
            format!(
                "{} {}",
                self.id,
                self.version_id.as_deref().unwrap_or("(no version)")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rel(text: &str) -> (OsRelease, Release) {
        let os = parse(text).expect("parses");
        let r = os.release();
        (os, r)
    }

    #[test]
    fn debian_12() {
        let (os, r) = rel(r#"PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"#);
        assert_eq!(os.id, "debian");
        assert_eq!(os.codename.as_deref(), Some("bookworm"));
        assert_eq!(os.display(), "Debian GNU/Linux 12 (bookworm)");
        assert_eq!(r.product, "debian");
        assert_eq!(r.cycle.as_deref(), Some("12"));
    }

    #[test]
    fn debian_testing_has_no_cycle() {
        let (_, r) = rel("PRETTY_NAME=\"Debian GNU/Linux forky/sid\"\nID=debian\n");
        assert_eq!(r.cycle, None);
        assert_eq!(r.to_string(), "debian (no version)");
    }

    #[test]
    fn ubuntu_lts() {
        let (os, r) = rel(r#"PRETTY_NAME="Ubuntu 22.04.4 LTS"
NAME="Ubuntu"
VERSION_ID="22.04"
VERSION="22.04.4 LTS (Jammy Jellyfish)"
VERSION_CODENAME=jammy
ID=ubuntu
ID_LIKE=debian
UBUNTU_CODENAME=jammy
"#);
        assert_eq!(os.id_like, vec!["debian"]);
        assert_eq!(r.product, "ubuntu");
        assert_eq!(r.cycle.as_deref(), Some("22.04"));
    }

    #[test]
    fn amazon_linux_2_and_2023() {
        let (_, r) = rel(r#"NAME="Amazon Linux"
VERSION="2"
ID="amzn"
ID_LIKE="centos rhel fedora"
VERSION_ID="2"
PRETTY_NAME="Amazon Linux 2"
ANSI_COLOR="0;33"
CPE_NAME="cpe:2.3:o:amazon:amazon_linux:2"
"#);
        assert_eq!(
            r,
            Release {
                product: "amazon-linux".into(),
                cycle: Some("2".into())
            }
        );
        let (os, r) = rel(r#"NAME="Amazon Linux"
VERSION="2023"
ID="amzn"
ID_LIKE="fedora"
VERSION_ID="2023"
PLATFORM_ID="platform:al2023"
PRETTY_NAME="Amazon Linux 2023.6.20241212"
"#);
        assert_eq!(os.id_like, vec!["fedora"]);
        assert_eq!(r.cycle.as_deref(), Some("2023"));
    }

    #[test]
    fn rhel_family_by_major_release() {
        for (text, product, cycle) in [
            (
                "NAME=\"Red Hat Enterprise Linux\"\nVERSION=\"9.4 (Plow)\"\nID=\"rhel\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"9.4\"\n",
                "rhel",
                "9",
            ),
            (
                "NAME=\"Rocky Linux\"\nVERSION=\"8.10 (Green Obsidian)\"\nID=\"rocky\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"8.10\"\n",
                "rocky-linux",
                "8",
            ),
            (
                "NAME=\"AlmaLinux\"\nVERSION=\"10.0 (Purple Lion)\"\nID=\"almalinux\"\nID_LIKE=\"rhel centos fedora\"\nVERSION_ID=\"10.0\"\n",
                "almalinux",
                "10",
            ),
            (
                "NAME=\"CentOS Linux\"\nVERSION=\"7 (Core)\"\nID=\"centos\"\nID_LIKE=\"rhel fedora\"\nVERSION_ID=\"7\"\n",
                "centos",
                "7",
            ),
        ] {
            let (_, r) = rel(text);
            assert_eq!(r.product, product, "{text}");
            assert_eq!(r.cycle.as_deref(), Some(cycle), "{text}");
        }
    }

    #[test]
    fn quotes_and_escapes_are_data() {
        let os = parse("ID=debian\nPRETTY_NAME=\"a \\\"b\\\" $(rm -rf /) \\$x\"\nNAME='single'\n")
            .expect("parses");
        assert_eq!(os.pretty_name.as_deref(), Some("a \"b\" $(rm -rf /) $x"));
        assert_eq!(os.name.as_deref(), Some("single"));
    }

    #[test]
    fn garbage_is_refused_with_its_line() {
        assert_eq!(
            parse("ID=debian\n<html>not os-release</html>\n"),
            Err(OsReleaseError::Malformed {
                line: 2,
                shown: "<html>not os-release</html>".into()
            })
        );
        assert_eq!(
            parse("ID=\"debian\nX=1\n"),
            Err(OsReleaseError::Unclosed {
                line: 1,
                key: "ID".into()
            })
        );
        assert_eq!(parse("NAME=x\n"), Err(OsReleaseError::NoId));
        assert_eq!(parse(""), Err(OsReleaseError::NoId));
        assert!(matches!(
            parse("BAD KEY=1\nID=x"),
            Err(OsReleaseError::Malformed { line: 1, .. })
        ));
    }
}
