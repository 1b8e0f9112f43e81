//! What `fearless os` asks a host: one constant script (its os-release, its kernel, its own
//! `distro-info-data` CSVs when it has them) and the pure reader of its answer.

use crate::eol::Distro;
use crate::os_release::{self, OsRelease, OsReleaseError};

/// The script: sections marked `@@…`, every file followed by a line break so a file
/// without a final one cannot run into the next marker.
pub const SCRIPT: &str = r#": fearless-os
LC_ALL=C
export LC_ALL
echo '@@os-release'
if [ -r /etc/os-release ]; then cat /etc/os-release; elif [ -r /usr/lib/os-release ]; then cat /usr/lib/os-release; fi
echo
echo '@@kernel'
uname -r
for f in /usr/share/distro-info/debian.csv /usr/share/distro-info/ubuntu.csv; do
  if [ -r "$f" ]; then echo "@@file $f"; cat "$f"; echo; fi
done
echo '@@end'
"#;

/// The argv of [`SCRIPT`]: `sh -c SCRIPT sh`.
pub fn argv() -> Vec<String> {
    ["sh", "-c", SCRIPT, "sh"].map(str::to_owned).to_vec()
}

/// A host's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// Its os-release.
    pub os: OsRelease,
    /// `uname -r`.
    pub kernel: String,
    /// Its own distro-info-data CSVs: which, where, and the text.
    pub distro_info: Vec<(Distro, String, String)>,
}

/// Why an answer cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnswerError {
    /// The script did not run to its end (cut, or not this script's output).
    #[error("the answer is incomplete: no {0} marker")]
    Incomplete(&'static str),
    /// The host has no os-release, or not a readable one.
    #[error("/etc/os-release: {0}")]
    OsRelease(#[from] OsReleaseError),
}

/// Read the script's output.
pub fn read(text: &str) -> Result<Answer, AnswerError> {
    let start = text
        .find("@@os-release\n")
        .ok_or(AnswerError::Incomplete("@@os-release"))?;
    let body = &text[start + "@@os-release\n".len()..];
    let end = body
        .rfind("@@end")
        .ok_or(AnswerError::Incomplete("@@end"))?;
    let body = &body[..end];
    let k = body
        .rfind("\n@@kernel\n")
        .ok_or(AnswerError::Incomplete("@@kernel"))?;
    let os = os_release::parse(&body[..k])?;
    let rest = &body[k + "\n@@kernel\n".len()..];
    let mut parts = rest.split("@@file ");
    let kernel = parts.next().unwrap_or_default().trim().to_owned();
    let mut distro_info = Vec::new();
    for part in parts {
        let (path, content) = part.split_once('\n').unwrap_or((part, ""));
        let distro = if path.ends_with("/ubuntu.csv") {
            Distro::Ubuntu
        } else {
            Distro::Debian
        };
        distro_info.push((distro, path.to_owned(), content.to_owned()));
    }
    Ok(Answer {
        os,
        kernel,
        distro_info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_an_answer_with_a_distro_info_file() {
        let a = read("@@os-release\nID=debian\nVERSION_ID=\"12\"\n\n@@kernel\n6.1.0-28-amd64\n@@file /usr/share/distro-info/debian.csv\nversion,codename\n12,Bookworm\n\n@@end\n")
            .expect("reads");
        assert_eq!(a.os.id, "debian");
        assert_eq!(a.kernel, "6.1.0-28-amd64");
        assert_eq!(a.distro_info.len(), 1);
        assert_eq!(a.distro_info[0].0, Distro::Debian);
        assert!(a.distro_info[0].2.starts_with("version,codename\n12,"));
    }

    #[test]
    fn reads_one_without_and_refuses_a_cut_one() {
        let a = read("@@os-release\nID=\"rocky\"\nVERSION_ID=\"9.4\"\n@@kernel\n5.14.0\n@@end\n")
            .expect("reads");
        assert!(a.distro_info.is_empty());
        assert_eq!(
            read("@@os-release\nID=rocky\n@@kernel\n5.1"),
            Err(AnswerError::Incomplete("@@end"))
        );
        assert_eq!(
            read("garbage"),
            Err(AnswerError::Incomplete("@@os-release"))
        );
        assert!(matches!(
            read("@@os-release\n\n@@kernel\n5\n@@end\n"),
            Err(AnswerError::OsRelease(OsReleaseError::NoId))
        ));
    }
}
