//! The `ssm` transport: commands as AWS Systems Manager Run Command scripts
//! (`AWS-RunShellScript`). The script is the argv quoted by [`crate::quote`] — the one
//! place argv becomes shell text, as over ssh — so data stays quoted positional
//! parameters. A fleet's hosts share one [`fearless_aws::ssm::Runner`] per region and
//! endpoint: identical scripts sent at once go in one `SendCommand` of up to 50 instances,
//! each host's result is polled on its own, every call under one limiter.
//!
//! Output: SSM returns only the first 24,000 characters of standard output inline (8,000
//! of standard error). So every command runs under [`WRAPPER`]: its streams go to files on
//! the host; small ones are printed as they are; large ones are gzipped and base64'd and
//! come back in the same answer when that fits, else are read back in chunks that do —
//! either way announced by a marker line with this process's nonce, so no command's own
//! output can fake it. An answer is never read short: what passes the output cap
//! ([`Limits`]) is flagged cut, as over ssh.
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
        // Without an instance or a region there is nothing to ask (the config refuses such
        // a host; a host built in code gets this): said at once, nothing contacted.
        let runner = match (&host.instance, region.is_empty()) {
            (Some(_), false) => runners.get(&region, options),
            _ => Err(AwsError::Unreachable {
                service: "ssm",
                endpoint: String::new(),
                detail: "the ssm transport needs the host's instance id and region".into(),
                cause: fearless_aws::Unreached::Other,
            }),
        };
        Self {
            host: host.name.clone(),
            limits,
            instance: host.instance.clone().unwrap_or_default(),
            runner,
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
        let runner = self.runner.as_ref().map_err(|e| self.aws_error(e))?;
        let infos = runner
            .ssm()
            .describe_instance_information(std::slice::from_ref(&self.instance))
            .await
            .map_err(|e| self.aws_error(&e))?;
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
        let text = String::from_utf8_lossy(&stdout);
        if let Some(answer) = Packed::parse(&text) {
            let (code, out_b64, err_b64) = match answer {
                Packed::Inline { code, out, err } => (code, out, err),
                Packed::Spilled {
                    dir,
                    out,
                    err,
                    code,
                } => {
                    let deadline = timeout.max(Duration::from_secs(30));
                    let o = self.fetch(&format!("{dir}/o.b64"), out, deadline).await;
                    let e = self.fetch(&format!("{dir}/e.b64"), err, deadline).await;
                    // Best effort: the host's /tmp is cleaned at boot in any case.
                    let _ = self
                        .send(
                            &quoted(&["rm", "-rf", "--", &dir])?,
                            Duration::from_secs(30),
                        )
                        .await;
                    (code, o?, e?)
                }
            };
            let max = self.limits.max_output;
            let unpacked = |b64: &str, what: &str| {
                unpack(b64, max).ok_or_else(|| ExecError::Unreachable {
                    host: self.host.clone(),
                    detail: format!("the command's {what} came back unreadable (gzip+base64)"),
                })
            };
            let (stdout, stdout_truncated) = unpacked(&out_b64, "output")?;
            let (stderr, stderr_truncated) = unpacked(&err_b64, "error output")?;
            return Ok(Output {
                code: Some(code),
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

    /// Read a spilled `PATH` (`size` characters of base64) back in chunks that fit SSM's
    /// inline answer.
    async fn fetch(&self, path: &str, size: usize, timeout: Duration) -> Result<String, ExecError> {
        let mut text = String::with_capacity(size);
        let mut chunk = 0usize;
        while text.len() < size {
            let script = quote::shell_join(&[
                "dd",
                &format!("if={path}"),
                &format!("bs={CHUNK}"),
                &format!("skip={chunk}"),
                "count=1",
                "status=none",
            ])
            .map_err(|source| ExecError::Quote {
                host: self.host.clone(),
                source,
            })?;
            let (code, out, _, cut, _) = self.send(&script, timeout).await?;
            if code != 0 || cut || out.is_empty() {
                return Err(ExecError::Unreachable {
                    host: self.host.clone(),
                    detail: format!(
                        "could not read the command's output back from {path} (chunk {chunk})"
                    ),
                });
            }
            text.push_str(&String::from_utf8_lossy(&out));
            chunk += 1;
        }
        Ok(text)
    }

    /// Send one script and wait for its end: `(code, stdout, stderr, stdout cut, stderr
    /// cut)`, or how it failed.
    async fn send(
        &self,
        script: &str,
        timeout: Duration,
    ) -> Result<(i32, Vec<u8>, Vec<u8>, bool, bool), ExecError> {
        let runner = self.runner.as_ref().map_err(|e| self.aws_error(e))?;
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
            Err(e) => Err(self.aws_error(&e)),
        }
    }

    fn aws_error(&self, e: &AwsError) -> ExecError {
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

/// Characters of a spilled answer read per call: within the 24,000 SSM returns inline.
const CHUNK: usize = 23_000;

/// Runs `$1` (the command, quoted) with its streams in files of a fresh directory, then
/// answers in one of three ways: both small (at most 16,000 bytes of output — 24,000
/// characters even as escapes — and 6,000 of errors): printed as they are, with the
/// command's exit code; else gzipped and base64'd, and when the two fit 23,000 characters,
/// `$2 inline CODE OUT ERR` on a line and the two texts after it; else `$2 spill DIR OUT ERR
/// CODE`, leaving `DIR/o.b64` and `DIR/e.b64` for [`SsmTransport::fetch`].
pub(crate) const WRAPPER: &str = r#"d=$(mktemp -d /tmp/fearless-ssm.XXXXXXXX) || exit 125
sh -c "$1" >"$d/o" 2>"$d/e" </dev/null
rc=$?
o=$(wc -c <"$d/o") e=$(wc -c <"$d/e")
if [ "$o" -le 16000 ] && [ "$e" -le 6000 ]; then
  cat "$d/o"; cat "$d/e" >&2; rm -rf "$d"; exit "$rc"
fi
for f in o e; do
  gzip -c <"$d/$f" | base64 | tr -d '\n' >"$d/$f.b64" || { echo "fearless: gzip and base64 are needed for a large answer" >&2; rm -rf "$d"; exit 125; }
done
ob=$(wc -c <"$d/o.b64") eb=$(wc -c <"$d/e.b64")
if [ $((ob + eb)) -le 23000 ]; then
  printf '%s inline %s %s %s\n' "$2" "$rc" "$ob" "$eb"; cat "$d/o.b64" "$d/e.b64"; rm -rf "$d"; exit 0
fi
printf '%s spill %s %s %s %s\n' "$2" "$d" "$ob" "$eb" "$rc"
"#;

/// The marker of a packed answer: fixed for this process, unguessable to a command.
fn marker() -> String {
    static MARKER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    MARKER
        .get_or_init(|| {
            format!(
                "FEARLESS-PACKED-{:016x}{:016x}",
                fastrand::u64(..),
                fastrand::u64(..)
            )
        })
        .clone()
}

/// A packed answer, read.
#[derive(Debug, PartialEq, Eq)]
enum Packed {
    /// Both streams gzipped and base64'd, in the answer.
    Inline { code: i32, out: String, err: String },
    /// Both streams gzipped and base64'd in files on the host (lengths in characters).
    Spilled {
        dir: String,
        out: usize,
        err: usize,
        code: i32,
    },
}

impl Packed {
    fn parse(text: &str) -> Option<Self> {
        let (line, rest) = text.split_once('\n')?;
        let mut f = line.split(' ');
        if f.next()? != marker() {
            return None;
        }
        let packed = match f.next()? {
            "inline" => {
                let code = f.next()?.parse().ok()?;
                let ob: usize = f.next()?.parse().ok()?;
                let eb: usize = f.next()?.parse().ok()?;
                if rest.len() != ob + eb || !rest.is_char_boundary(ob) {
                    return None;
                }
                Packed::Inline {
                    code,
                    out: rest[..ob].to_owned(),
                    err: rest[ob..].to_owned(),
                }
            }
            "spill" => {
                let dir = f.next()?.to_owned();
                // mktemp's name and nothing else: never a path elsewhere to read or remove.
                let suffix = dir.strip_prefix("/tmp/fearless-ssm.")?;
                if suffix.is_empty()
                    || !suffix.bytes().all(|b| b.is_ascii_alphanumeric())
                    || !rest.is_empty()
                {
                    return None;
                }
                Packed::Spilled {
                    dir,
                    out: f.next()?.parse().ok()?,
                    err: f.next()?.parse().ok()?,
                    code: f.next()?.parse().ok()?,
                }
            }
            _ => return None,
        };
        f.next().is_none().then_some(packed)
    }
}

/// gzip+base64 text → at most `max` bytes, and whether there was more; `None` when it is
/// not gzip+base64.
fn unpack(b64: &str, max: usize) -> Option<(Vec<u8>, bool)> {
    use std::io::Read as _;
    let gz = base64::engine::general_purpose::STANDARD
        .decode(b64.trim_ascii())
        .ok()?;
    let mut out = Vec::new();
    let cap = u64::try_from(max).unwrap_or(u64::MAX).saturating_add(1);
    flate2::read::GzDecoder::new(gz.as_slice())
        .take(cap)
        .read_to_end(&mut out)
        .ok()?;
    let cut = out.len() > max;
    out.truncate(max);
    Some((out, cut))
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

    fn wrapped(cmd: &str) -> std::process::Output {
        std::process::Command::new("sh")
            .args(["-c", WRAPPER, "sh", cmd, &marker()])
            .output()
            .expect("sh")
    }

    #[test]
    fn small_answers_are_as_they_are() {
        let small = wrapped("echo hi; echo oops >&2; exit 4");
        assert_eq!(small.status.code(), Some(4));
        assert_eq!(small.stdout, b"hi\n");
        assert_eq!(small.stderr, b"oops\n");
        assert_eq!(Packed::parse("hi\n"), None);
    }

    #[test]
    fn large_answers_are_packed_inline_and_come_back_whole() {
        let out = wrapped("yes hello | head -n 20000; echo err >&2; exit 3");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let Some(Packed::Inline { code, out, err }) = Packed::parse(&text) else {
            panic!("{text}");
        };
        assert_eq!(code, 3);
        let (o, cut) = unpack(&out, 1 << 20).expect("unpacks");
        assert!(!cut);
        let expected = "hello\n".repeat(20000);
        assert_eq!(o, expected.as_bytes());
        assert_eq!(unpack(&err, 1024).map(|(e, _)| e), Some(b"err\n".to_vec()));
        // The cap holds on the unpacked bytes.
        let (capped, cut) = unpack(&out, 100).expect("unpacks");
        assert!(cut && capped.len() == 100);
    }

    #[test]
    fn answers_too_large_to_pack_inline_are_spilled() {
        let out = wrapped("head -c 300000 /dev/urandom; exit 2");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let Some(Packed::Spilled {
            dir,
            out,
            err,
            code,
        }) = Packed::parse(&text)
        else {
            panic!("{text}");
        };
        assert_eq!(code, 2);
        assert!(out > 300_000 && err > 0, "{out} {err}");
        let b64 = std::fs::read_to_string(format!("{dir}/o.b64")).expect("spilled");
        assert_eq!(b64.len(), out);
        assert_eq!(unpack(&b64, 1 << 20).map(|(o, _)| o.len()), Some(300_000));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn only_our_marker_is_read() {
        let m = marker();
        assert_eq!(Packed::parse("FEARLESS-PACKED-0 inline 0 0 0\n"), None);
        assert_eq!(Packed::parse(&format!("{m} spill /etc 1 1 0\n")), None);
        assert_eq!(
            Packed::parse(&format!("{m} spill /tmp/fearless-ssm.x/../../etc 1 1 0\n")),
            None
        );
        assert_eq!(
            Packed::parse(&format!("{m} inline 0 5 0\nabc")),
            None,
            "lengths must match"
        );
        assert_eq!(
            Packed::parse(&format!("{m} spill /tmp/fearless-ssm.Ab12 10 4 7\n")),
            Some(Packed::Spilled {
                dir: "/tmp/fearless-ssm.Ab12".into(),
                out: 10,
                err: 4,
                code: 7
            })
        );
    }
}
