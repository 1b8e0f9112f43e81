//! The `ssm` transport: commands as AWS Systems Manager Run Command scripts
//! (`AWS-RunShellScript`). The script is the argv quoted by [`crate::quote`] — the one
//! place argv becomes shell text, as over ssh — so data stays quoted positional
//! parameters. A fleet's hosts share one [`fearless_aws::ssm::Runner`] per region and
//! endpoint: identical scripts sent at once go in one `SendCommand` of up to 50 instances,
//! each host's result is polled on its own, every call under one limiter.
//!
//! Output: SSM returns only the first 24,000 characters of standard output inline (8,000
//! of standard error). So every command runs under [`WRAPPER`]: its streams go to files on
//! the host; small ones are printed as they are, large ones are announced by a marker line
//! (with this process's nonce, so no command's own output can fake it) and read back in
//! base64 chunks that fit inline, up to the output cap ([`Limits`]), then removed. An
//! answer is never read short: what passes the cap is flagged cut, as over ssh.
//!
//! How it ends: `Success`/`Failed` is an [`Output`] with the script's exit code; `TimedOut` at `executionTimeout` (the deadline, whole seconds) is
//! [`ExecError::Timeout`]; not delivered (not a managed node, agent offline) is
//! [`ExecError::Unreachable`]; refused by IAM or the agent is [`ExecError::Auth`].

use crate::{ExecError, Limits, Output, quote};
use base64::Engine as _;
use fearless_aws::ssm::{Ended, Runner, RunnerOptions, Ssm};
use fearless_aws::{AwsError, Client, ClientOptions};
use fearless_config::{Host, SsmOptions};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Runs commands on one managed node through Run Command.
#[derive(Debug)]
pub struct SsmTransport {
    pub(crate) host: String,
    pub(crate) limits: Limits,
    instance: String,
    runner: Result<Arc<Runner>, AwsError>,
}

/// The runners of a fleet, one per (region, endpoint, profile).
#[derive(Debug, Default)]
pub(crate) struct Runners(HashMap<String, Result<Arc<Runner>, AwsError>>);

impl Runners {
    fn get(&mut self, region: &str, options: &SsmOptions) -> Result<Arc<Runner>, AwsError> {
        let key = format!(
            "{region}\0{:?}\0{:?}",
            options.endpoint_url, options.profile
        );
        self.0
            .entry(key)
            .or_insert_with(|| {
                let mut o = ClientOptions::new(region);
                o.endpoint_url.clone_from(&options.endpoint_url);
                o.profile.clone_from(&options.profile);
                Client::new("ssm", o).map(|c| {
                    Runner::new(
                        Ssm::new(c),
                        RunnerOptions::default(),
                        options.output_bucket.clone(),
                    )
                })
            })
            .clone()
    }
}

impl SsmTransport {
    pub(crate) fn new(
        host: &Host,
        options: &SsmOptions,
        limits: Limits,
        runners: &mut Runners,
    ) -> Self {
        let region = host
            .region
            .clone()
            .or_else(|| options.region.clone())
            .unwrap_or_default();
        Self {
            host: host.name.clone(),
            limits,
            instance: host.instance.clone().unwrap_or_default(),
            runner: runners.get(&region, options),
        }
    }

    /// The API calls made so far by every host sharing this host's runner, by operation.
    pub fn calls(&self) -> Option<Arc<fearless_aws::Calls>> {
        self.runner.as_ref().ok().map(|r| r.ssm().client().calls())
    }

    /// `DescribeInstanceInformation` of this host's instance: `None` when SSM does not
    /// know it as a managed node.
    pub async fn information(
        &self,
    ) -> Result<Option<fearless_aws::ssm::InstanceInformation>, ExecError> {
        let runner = self
            .runner
            .as_ref()
            .map_err(|e| self.aws_error(e.clone()))?;
        let infos = runner
            .ssm()
            .describe_instance_information(std::slice::from_ref(&self.instance))
            .await
            .map_err(|e| self.aws_error(e))?;
        Ok(infos.into_iter().find(|i| i.instance_id == self.instance))
    }

    pub(crate) async fn run(
        &self,
        argv: &[String],
        timeout: Duration,
    ) -> Result<Output, ExecError> {
        let quoted = |argv: &[&str]| {
            quote::shell_join(argv).map_err(|source| ExecError::Quote {
                host: self.host.clone(),
                source,
            })
        };
        let command = quote::shell_join(argv).map_err(|source| ExecError::Quote {
            host: self.host.clone(),
            source,
        })?;
        let mark = marker();
        let script = quoted(&["sh", "-c", WRAPPER, "sh", &command, &mark])?;
        let start = Instant::now();
        let (code, stdout, stderr, stdout_cut, stderr_cut) = self.send(&script, timeout).await?;
        if stdout_cut {
            // The wrapper never prints that much: a cut answer is not the wrapper's.
            return Err(ExecError::Unreachable {
                host: self.host.clone(),
                detail: "SSM cut an answer that fearless's wrapper keeps within its inline limit"
                    .into(),
            });
        }
        if let Some(spill) = Spill::parse(&String::from_utf8_lossy(&stdout)) {
            let deadline = timeout.max(Duration::from_secs(30));
            let out = self.fetch(&spill.dir, "o", spill.stdout, deadline).await;
            let err = self.fetch(&spill.dir, "e", spill.stderr, deadline).await;
            // Best effort: the host's /tmp is cleaned at boot in any case.
            let _ = self
                .send(
                    &quoted(&["rm", "-rf", "--", &spill.dir])?,
                    Duration::from_secs(30),
                )
                .await;
            let (stdout, stdout_truncated) = out?;
            let (stderr, stderr_truncated) = err?;
            return Ok(Output {
                code: Some(spill.code),
                stdout,
                stderr,
                stdout_truncated,
                stderr_truncated,
                elapsed: start.elapsed(),
            });
        }
        let (stdout, out_capped) = capped(stdout, self.limits.max_output);
        let (stderr, err_capped) = capped(stderr, self.limits.max_output);
        Ok(Output {
            code: Some(code),
            stdout,
            stderr,
            stdout_truncated: out_capped,
            stderr_truncated: stderr_cut || err_capped,
            elapsed: start.elapsed(),
        })
    }

    /// Read `DIR/NAME` (`size` bytes) back in base64 chunks, at most the output cap; the
    /// bytes, and whether the file went on past the cap.
    async fn fetch(
        &self,
        dir: &str,
        name: &str,
        size: u64,
        timeout: Duration,
    ) -> Result<(Vec<u8>, bool), ExecError> {
        let max = self.limits.max_output;
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let want = size.min(max);
        let path = format!("{dir}/{name}");
        let mut bytes = Vec::with_capacity(want);
        let mut chunk = 0usize;
        while bytes.len() < want {
            let script = quote::shell_join(&[
                "sh",
                "-c",
                r#"dd if="$1" bs="$2" skip="$3" count=1 2>/dev/null | base64 | tr -d '\n'"#,
                "sh",
                &path,
                &CHUNK.to_string(),
                &chunk.to_string(),
            ])
            .map_err(|source| ExecError::Quote {
                host: self.host.clone(),
                source,
            })?;
            let (code, out, _, cut, _) = self.send(&script, timeout).await?;
            let decoded = if code == 0 && !cut {
                base64::engine::general_purpose::STANDARD
                    .decode(out.trim_ascii())
                    .ok()
            } else {
                None
            };
            let Some(decoded) = decoded.filter(|d| !d.is_empty()) else {
                return Err(ExecError::Unreachable {
                    host: self.host.clone(),
                    detail: format!(
                        "could not read the command's output back from {path} (chunk {chunk})"
                    ),
                });
            };
            bytes.extend_from_slice(&decoded);
            chunk += 1;
        }
        bytes.truncate(want);
        Ok((bytes, size > max))
    }

    /// Send one script and wait for its end: `(code, stdout, stderr, stdout cut, stderr
    /// cut)`, or how it failed.
    async fn send(
        &self,
        script: &str,
        timeout: Duration,
    ) -> Result<(i32, Vec<u8>, Vec<u8>, bool, bool), ExecError> {
        let runner = self
            .runner
            .as_ref()
            .map_err(|e| self.aws_error(e.clone()))?;
        match runner.run(&self.instance, script, timeout).await {
            Ok(Ended::Exited {
                code,
                stdout,
                stderr,
                stdout_cut,
                stderr_cut,
            }) => Ok((
                code,
                stdout.into_bytes(),
                stderr.into_bytes(),
                stdout_cut,
                stderr_cut,
            )),
            Ok(Ended::TimedOut) => Err(ExecError::Timeout {
                host: self.host.clone(),
                after: timeout,
                cut_at: None,
            }),
            Ok(Ended::NotDelivered(detail)) => Err(ExecError::Unreachable {
                host: self.host.clone(),
                detail: format!("{} ({detail})", self.instance),
            }),
            Ok(Ended::Refused(detail)) => Err(ExecError::Auth {
                host: self.host.clone(),
                detail,
            }),
            Err(e) => Err(self.aws_error(e)),
        }
    }

    fn aws_error(&self, e: AwsError) -> ExecError {
        if e.is_access_denied() {
            ExecError::Auth {
                host: self.host.clone(),
                detail: format!(
                    "{e} (the caller needs ssm:SendCommand and ssm:GetCommandInvocation on {})",
                    self.instance
                ),
            }
        } else if e.code() == Some("InvalidInstanceId") {
            ExecError::Unreachable {
                host: self.host.clone(),
                detail: format!(
                    "{} is not a managed node SSM can reach (InvalidInstanceId): check the SSM agent runs and the instance profile allows AmazonSSMManagedInstanceCore",
                    self.instance
                ),
            }
        } else {
            ExecError::Unreachable {
                host: self.host.clone(),
                detail: e.to_string(),
            }
        }
    }
}

/// Bytes a chunk of spilled output holds: 16,000 characters of base64, within the 24,000
/// SSM returns inline.
const CHUNK: usize = 12_000;

/// Runs `$1` (the command, quoted) with its streams in files of a fresh directory; prints
/// them as they are when they fit inline (at most 16,000 bytes of output — 24,000
/// characters even as escapes — and 6,000 of errors), else `$2 DIR OUT ERR CODE` on one
/// line, leaving the files for [`SsmTransport::fetch`]. Exits with the command's code.
pub(crate) const WRAPPER: &str = r#"d=$(mktemp -d /tmp/fearless-ssm.XXXXXXXX) || exit 125
sh -c "$1" >"$d/o" 2>"$d/e" </dev/null
rc=$?
o=$(wc -c <"$d/o") e=$(wc -c <"$d/e")
if [ "$o" -le 16000 ] && [ "$e" -le 6000 ]; then
  cat "$d/o"; cat "$d/e" >&2; rm -rf "$d"; exit "$rc"
fi
printf '%s %s %s %s %s
' "$2" "$d" "$o" "$e" "$rc"
"#;

/// The marker of a spilled answer: fixed for this process, unguessable to a command.
fn marker() -> String {
    static MARKER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    MARKER
        .get_or_init(|| {
            format!(
                "FEARLESS-SPILL-{:016x}{:016x}",
                fastrand::u64(..),
                fastrand::u64(..)
            )
        })
        .clone()
}

/// A spilled answer's marker line, read.
#[derive(Debug, PartialEq, Eq)]
struct Spill {
    dir: String,
    stdout: u64,
    stderr: u64,
    code: i32,
}

impl Spill {
    fn parse(text: &str) -> Option<Self> {
        let line = text.strip_suffix('\n')?;
        let mut f = line.split(' ');
        if f.next()? != marker() {
            return None;
        }
        let dir = f.next()?.to_owned();
        if !dir.starts_with("/tmp/fearless-ssm.") {
            return None;
        }
        let spill = Spill {
            dir,
            stdout: f.next()?.trim().parse().ok()?,
            stderr: f.next()?.trim().parse().ok()?,
            code: f.next()?.parse().ok()?,
        };
        f.next().is_none().then_some(spill)
    }
}

fn capped(bytes: Vec<u8>, max: usize) -> (Vec<u8>, bool) {
    let mut bytes = bytes;
    if bytes.len() > max {
        bytes.truncate(max);
        (bytes, true)
    } else {
        (bytes, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_marker_is_a_spill() {
        let m = marker();
        assert_eq!(
            Spill::parse(&format!("{m} /tmp/fearless-ssm.AbC12345 20000 7 3\n")),
            Some(Spill {
                dir: "/tmp/fearless-ssm.AbC12345".into(),
                stdout: 20000,
                stderr: 7,
                code: 3
            })
        );
        assert_eq!(
            Spill::parse("FEARLESS-SPILL-0 /tmp/fearless-ssm.x 1 1 0\n"),
            None
        );
        assert_eq!(Spill::parse(&format!("{m} /etc 1 1 0\n")), None);
        assert_eq!(
            Spill::parse(&format!("{m} /tmp/fearless-ssm.x 1 1 0\nmore\n")),
            None
        );
    }

    #[test]
    fn the_wrapper_prints_small_answers_and_spills_large_ones() {
        let run = |cmd: &str| {
            std::process::Command::new("sh")
                .args(["-c", WRAPPER, "sh", cmd, "MARK"])
                .output()
                .expect("sh")
        };
        let small = run("echo hi; echo oops >&2; exit 4");
        assert_eq!(small.status.code(), Some(4));
        assert_eq!(small.stdout, b"hi\n");
        assert_eq!(small.stderr, b"oops\n");
        let large = run("head -c 20000 /dev/zero; exit 2");
        let line = String::from_utf8_lossy(&large.stdout).into_owned();
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            (f[0], f[2], f[3], f[4]),
            ("MARK", "20000", "0", "2"),
            "{line}"
        );
        assert_eq!(
            std::fs::metadata(format!("{}/o", f[1]))
                .map(|m| m.len())
                .ok(),
            Some(20000)
        );
        let _ = std::fs::remove_dir_all(f[1]);
    }
}
