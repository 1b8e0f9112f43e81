//! AWS Systems Manager Run Command (AWS JSON 1.1, `X-Amz-Target: AmazonSSM.*`): the
//! operations fearless calls, typed, and [`Runner`], which runs one script on one instance
//! the way a transport needs it — batched, polled, bounded — and says how it ended.
//!
//! Limits taken from the SSM API reference (`SendCommand`, `GetCommandInvocation`):
//! at most [`MAX_TARGETS`] instance ids per `SendCommand`; `StandardOutputContent` holds the
//! first [`INLINE_STDOUT`] characters of the output, `StandardErrorContent` the first
//! [`INLINE_STDERR`]; the rest is only in the S3 bucket the command named
//! (`OutputS3BucketName`). `GetCommandInvocation` may answer `InvocationDoesNotExist`
//! right after `SendCommand` (eventual consistency): polled again, briefly.

use crate::{AwsError, Client};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, oneshot};

/// The SSM JSON target prefix.
const TARGET: &str = "AmazonSSM";
/// The document that runs a shell script on Linux.
pub const DOCUMENT: &str = "AWS-RunShellScript";
/// Its plugin's name, for `GetCommandInvocation`.
pub const PLUGIN: &str = "aws:runShellScript";
/// Instance ids one `SendCommand` may name.
pub const MAX_TARGETS: usize = 50;
/// Characters of standard output `GetCommandInvocation` returns inline.
pub const INLINE_STDOUT: usize = 24_000;
/// Characters of standard error `GetCommandInvocation` returns inline.
pub const INLINE_STDERR: usize = 8_000;

/// `SendCommand`'s request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendCommand {
    /// The document: [`DOCUMENT`].
    pub document_name: String,
    /// Up to [`MAX_TARGETS`] instance ids.
    pub instance_ids: Vec<String>,
    /// `commands` (the script's lines) and `executionTimeout` (seconds).
    pub parameters: HashMap<String, Vec<String>>,
    /// How long the command may wait to be delivered (30 s to 30 days).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// Where the agent writes the whole output.
    #[serde(rename = "OutputS3BucketName", skip_serializing_if = "Option::is_none")]
    pub output_s3_bucket_name: Option<String>,
    /// A note shown in the console.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// `SendCommand`'s answer.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SendCommandOutput {
    /// The command.
    pub command: Command,
}

/// A command as SSM describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Command {
    /// Its id.
    pub command_id: String,
}

/// `GetCommandInvocation`'s request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetCommandInvocation {
    /// The command.
    pub command_id: String,
    /// One of its instances.
    pub instance_id: String,
    /// The plugin: [`PLUGIN`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plugin_name: Option<String>,
}

/// `GetCommandInvocation`'s answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Invocation {
    /// `Pending`, `InProgress`, `Delayed`, `Success`, `Cancelled`, `TimedOut`, `Failed`,
    /// `Cancelling`.
    pub status: String,
    /// Finer: `DeliveryTimedOut`, `ExecutionTimedOut`, `Undeliverable`, `InvalidPlatform`,
    /// `AccessDenied`, `Terminated`, …
    pub status_details: String,
    /// The script's exit code (-1 while it runs).
    pub response_code: i64,
    /// The first [`INLINE_STDOUT`] characters of standard output.
    pub standard_output_content: String,
    /// The first [`INLINE_STDERR`] characters of standard error.
    pub standard_error_content: String,
    /// The whole output in S3, when the command named a bucket.
    pub standard_output_url: String,
    /// The whole error output in S3, when the command named a bucket.
    pub standard_error_url: String,
}

/// `DescribeInstanceInformation`'s answer, one instance.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct InstanceInformation {
    /// Its id.
    pub instance_id: String,
    /// `Online`, `ConnectionLost`, `Inactive`.
    pub ping_status: String,
    /// The SSM agent's version.
    pub agent_version: String,
    /// `Linux`, `Windows`, `MacOS`.
    pub platform_type: String,
    /// The OS's name.
    pub platform_name: String,
    /// The OS's version.
    pub platform_version: String,
    /// The host name the agent reports.
    pub computer_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[derive(Default)]
struct DescribeInstanceInformationOutput {
    instance_information_list: Vec<InstanceInformation>,
    next_token: Option<String>,
}

/// Typed calls of the SSM operations fearless uses.
#[derive(Debug)]
pub struct Ssm {
    client: Client,
}

impl Ssm {
    /// SSM through `client` (built for the service `ssm`).
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// The signed client (its region, endpoint, call counts).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// `SendCommand`.
    pub async fn send_command(&self, req: &SendCommand) -> Result<String, AwsError> {
        let out: SendCommandOutput = self.client.json(TARGET, "SendCommand", req).await?;
        Ok(out.command.command_id)
    }

    /// `GetCommandInvocation` of the shell plugin.
    pub async fn get_command_invocation(
        &self,
        command_id: &str,
        instance_id: &str,
    ) -> Result<Invocation, AwsError> {
        self.client
            .json(
                TARGET,
                "GetCommandInvocation",
                &GetCommandInvocation {
                    command_id: command_id.to_owned(),
                    instance_id: instance_id.to_owned(),
                    plugin_name: Some(PLUGIN.to_owned()),
                },
            )
            .await
    }

    /// `CancelCommand` for some of a command's instances.
    pub async fn cancel_command(
        &self,
        command_id: &str,
        instance_ids: &[String],
    ) -> Result<(), AwsError> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req<'a> {
            command_id: &'a str,
            instance_ids: &'a [String],
        }
        let _: serde_json::Value = self
            .client
            .json(
                TARGET,
                "CancelCommand",
                &Req {
                    command_id,
                    instance_ids,
                },
            )
            .await?;
        Ok(())
    }

    /// `DescribeInstanceInformation` of these instances (every page, 50 ids a call), or of
    /// every managed node of the region when `ids` is empty.
    pub async fn describe_instance_information(
        &self,
        ids: &[String],
    ) -> Result<Vec<InstanceInformation>, AwsError> {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Filter<'a> {
            key: &'static str,
            values: &'a [String],
        }
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Req<'a> {
            #[serde(skip_serializing_if = "Vec::is_empty")]
            filters: Vec<Filter<'a>>,
            max_results: u32,
            #[serde(skip_serializing_if = "Option::is_none")]
            next_token: Option<String>,
        }
        let chunks: Vec<&[String]> = if ids.is_empty() {
            vec![&[]]
        } else {
            ids.chunks(MAX_TARGETS).collect()
        };
        let mut all = Vec::new();
        for chunk in chunks {
            let mut token = None;
            loop {
                let req = Req {
                    filters: if chunk.is_empty() {
                        Vec::new()
                    } else {
                        vec![Filter {
                            key: "InstanceIds",
                            values: chunk,
                        }]
                    },
                    max_results: 50,
                    next_token: token.clone(),
                };
                let out: DescribeInstanceInformationOutput = self
                    .client
                    .json(TARGET, "DescribeInstanceInformation", &req)
                    .await?;
                all.extend(out.instance_information_list);
                match out.next_token {
                    Some(t) if !t.is_empty() && Some(&t) != token.as_ref() => token = Some(t),
                    _ => break,
                }
            }
        }
        Ok(all)
    }
}

/// How a script sent through [`Runner::run`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ended {
    /// It ran to its end: `Success` or `Failed` with the script's exit code.
    Exited {
        /// The exit code (`ResponseCode`).
        code: i32,
        /// Standard output: inline, or the whole of it from S3.
        stdout: String,
        /// Standard error: inline, or the whole of it from S3.
        stderr: String,
        /// Whether standard output may be cut (inline, at [`INLINE_STDOUT`] characters).
        stdout_cut: bool,
        /// Whether standard error may be cut (inline, at [`INLINE_STDERR`] characters).
        stderr_cut: bool,
    },
    /// SSM ended it at its `executionTimeout` (`TimedOut`), or fearless gave up waiting
    /// and cancelled it.
    TimedOut,
    /// It never ran: not delivered (`Undeliverable`, `DeliveryTimedOut`, `Terminated`), or
    /// cancelled by someone else. The words say which.
    NotDelivered(String),
    /// The instance refused it (`AccessDenied`, `InvalidPlatform`).
    Refused(String),
}

/// How [`Runner`] polls and batches.
#[derive(Debug, Clone, Copy)]
pub struct RunnerOptions {
    /// How long a script waits for others with the same text before its `SendCommand`
    /// goes (a check round sends the same script to every host at once).
    pub batch_window: Duration,
    /// The first poll after sending; each later one waits 1.6 times longer, at most
    /// `max_poll`.
    pub first_poll: Duration,
    /// The longest wait between two polls.
    pub max_poll: Duration,
    /// API calls in flight at once, for every instance of the runner.
    pub concurrency: usize,
    /// How long `InvocationDoesNotExist` right after sending is taken for eventual
    /// consistency.
    pub not_yet: Duration,
    /// The delivery deadline (`TimeoutSeconds`, at least 30).
    pub delivery: Duration,
}

impl Default for RunnerOptions {
    fn default() -> Self {
        Self {
            batch_window: Duration::from_millis(20),
            first_poll: Duration::from_millis(150),
            max_poll: Duration::from_secs(2),
            concurrency: 16,
            not_yet: Duration::from_secs(10),
            delivery: Duration::from_secs(60),
        }
    }
}

/// Runs scripts on instances through Run Command: identical scripts sent at about the same
/// time go in one `SendCommand` (up to [`MAX_TARGETS`] instances), each instance's result
/// is polled with `GetCommandInvocation`, every call under one limiter.
#[derive(Debug)]
pub struct Runner {
    ssm: Ssm,
    options: RunnerOptions,
    output_bucket: Option<String>,
    limiter: Semaphore,
    pending: Mutex<HashMap<(String, u64), Batch>>,
}

#[derive(Debug)]
struct Batch {
    ids: Vec<String>,
    waiters: Vec<oneshot::Sender<Result<String, AwsError>>>,
    /// Bumped when a batch is taken, so a timer only sends the batch it was started for.
    generation: u64,
}

impl Runner {
    /// A runner over `ssm`; with a bucket, commands write their whole output there.
    pub fn new(ssm: Ssm, options: RunnerOptions, output_bucket: Option<String>) -> Arc<Self> {
        Arc::new(Self {
            limiter: Semaphore::new(options.concurrency.max(1)),
            ssm,
            options,
            output_bucket,
            pending: Mutex::new(HashMap::new()),
        })
    }

    /// The typed client.
    pub fn ssm(&self) -> &Ssm {
        &self.ssm
    }

    /// Run `script` on `instance` and wait for its end, at most `timeout` of execution
    /// (`executionTimeout`, whole seconds) plus the delivery. An API failure (after the
    /// client's retries) is an `Err`.
    pub async fn run(
        self: &Arc<Self>,
        instance: &str,
        script: &str,
        timeout: Duration,
    ) -> Result<Ended, AwsError> {
        let secs = timeout.as_secs_f64().ceil().max(1.0) as u64;
        let command_id = self.enqueue(instance, script, secs).await?;
        self.wait(&command_id, instance, Duration::from_secs(secs))
            .await
    }

    /// Join (or start) the batch of `script`; the command id once it is sent.
    async fn enqueue(
        self: &Arc<Self>,
        instance: &str,
        script: &str,
        secs: u64,
    ) -> Result<String, AwsError> {
        let (tx, rx) = oneshot::channel();
        let key = (script.to_owned(), secs);
        let full = {
            let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            let batch = pending.entry(key.clone()).or_insert_with(|| Batch {
                ids: Vec::new(),
                waiters: Vec::new(),
                generation: 0,
            });
            let first = batch.ids.is_empty();
            batch.ids.push(instance.to_owned());
            batch.waiters.push(tx);
            if batch.ids.len() >= MAX_TARGETS {
                Some(take(batch))
            } else {
                if first {
                    let me = self.clone();
                    let generation = batch.generation;
                    let key = key.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(me.options.batch_window).await;
                        let due = {
                            let mut pending =
                                me.pending.lock().unwrap_or_else(PoisonError::into_inner);
                            pending
                                .get_mut(&key)
                                .filter(|b| b.generation == generation && !b.ids.is_empty())
                                .map(take)
                        };
                        if let Some((ids, waiters)) = due {
                            me.send(&key.0, key.1, ids, waiters).await;
                        }
                    });
                }
                None
            }
        };
        if let Some((ids, waiters)) = full {
            let me = self.clone();
            tokio::spawn(async move { me.send(&key.0, key.1, ids, waiters).await });
        }
        rx.await.unwrap_or_else(|_| {
            Err(AwsError::Parse {
                service: "ssm",
                operation: "SendCommand",
                detail: "the batch was dropped before it was sent".into(),
            })
        })
    }

    async fn send(
        &self,
        script: &str,
        secs: u64,
        ids: Vec<String>,
        waiters: Vec<oneshot::Sender<Result<String, AwsError>>>,
    ) {
        let req = SendCommand {
            document_name: DOCUMENT.to_owned(),
            instance_ids: ids,
            parameters: HashMap::from([
                ("commands".to_owned(), vec![script.to_owned()]),
                ("executionTimeout".to_owned(), vec![secs.to_string()]),
            ]),
            timeout_seconds: Some(self.options.delivery.as_secs().max(30)),
            output_s3_bucket_name: self.output_bucket.clone(),
            comment: Some("fearless".to_owned()),
        };
        let sent = {
            let _slot = self.limiter.acquire().await;
            self.ssm.send_command(&req).await
        };
        // One id SSM refuses (not a managed node) refuses the whole command: send each
        // instance on its own then, so the others run and the one is told why.
        if req.instance_ids.len() > 1
            && sent
                .as_ref()
                .err()
                .and_then(AwsError::code)
                .is_some_and(|c| c == "InvalidInstanceId")
        {
            let singles = req.instance_ids.iter().zip(waiters).map(|(id, w)| {
                let mut one = req.clone();
                one.instance_ids = vec![id.clone()];
                async move {
                    let sent = {
                        let _slot = self.limiter.acquire().await;
                        self.ssm.send_command(&one).await
                    };
                    let _ = w.send(sent);
                }
            });
            futures::future::join_all(singles).await;
            return;
        }
        for w in waiters {
            let _ = w.send(sent.clone());
        }
    }

    /// Poll `instance`'s invocation of `command_id` until it ends.
    async fn wait(
        &self,
        command_id: &str,
        instance: &str,
        execution: Duration,
    ) -> Result<Ended, AwsError> {
        let sent = Instant::now();
        // SSM ends the script at its executionTimeout; past that and the delivery, it is
        // fearless that stops waiting.
        let give_up = execution + self.options.delivery + Duration::from_secs(5);
        let mut pause = self.options.first_poll;
        loop {
            tokio::time::sleep(pause).await;
            pause = pause.mul_f64(1.6).min(self.options.max_poll);
            let got = {
                let _slot = self.limiter.acquire().await;
                self.ssm.get_command_invocation(command_id, instance).await
            };
            let inv = match got {
                Ok(inv) => inv,
                Err(e)
                    if e.code() == Some("InvocationDoesNotExist")
                        && sent.elapsed() < self.options.not_yet =>
                {
                    continue;
                }
                Err(e) => return Err(e),
            };
            if let Some(end) = ended(&inv) {
                return Ok(end);
            }
            if sent.elapsed() > give_up {
                let _slot = self.limiter.acquire().await;
                let _ = self
                    .ssm
                    .cancel_command(command_id, &[instance.to_owned()])
                    .await;
                return Ok(Ended::TimedOut);
            }
        }
    }
}

fn take(batch: &mut Batch) -> (Vec<String>, Vec<oneshot::Sender<Result<String, AwsError>>>) {
    batch.generation += 1;
    (
        std::mem::take(&mut batch.ids),
        std::mem::take(&mut batch.waiters),
    )
}

/// How an invocation ended, or `None` while it has not. Pure.
pub fn ended(inv: &Invocation) -> Option<Ended> {
    let details = inv.status_details.as_str();
    match inv.status.as_str() {
        "Pending" | "InProgress" | "Delayed" | "Cancelling" => None,
        "Success" | "Failed"
            if !matches!(
                details,
                "Undeliverable" | "InvalidPlatform" | "AccessDenied" | "Terminated"
            ) =>
        {
            let code = i32::try_from(inv.response_code).unwrap_or(-1);
            Some(Ended::Exited {
                code,
                stdout_cut: inv.standard_output_content.chars().count() >= INLINE_STDOUT,
                stderr_cut: inv.standard_error_content.chars().count() >= INLINE_STDERR,
                stdout: inv.standard_output_content.clone(),
                stderr: inv.standard_error_content.clone(),
            })
        }
        "TimedOut" if details != "DeliveryTimedOut" => Some(Ended::TimedOut),
        _ => Some(match details {
            "AccessDenied" | "InvalidPlatform" => Ended::Refused(format!(
                "SSM says {details}: the instance's agent refused the command"
            )),
            "Undeliverable" => Ended::NotDelivered(
                "SSM could not deliver the command (Undeliverable): the instance is not a managed node, \
                 is stopped, or its agent is not running"
                    .into(),
            ),
            "DeliveryTimedOut" => Ended::NotDelivered(
                "SSM could not deliver the command in time (DeliveryTimedOut): the agent is offline"
                    .into(),
            ),
            other => Ended::NotDelivered(format!(
                "the command ended {} ({other})",
                inv.status
            )),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(status: &str, details: &str, code: i64) -> Invocation {
        Invocation {
            status: status.into(),
            status_details: details.into(),
            response_code: code,
            ..Invocation::default()
        }
    }

    #[test]
    fn statuses_map_to_ends() {
        for s in ["Pending", "InProgress", "Delayed", "Cancelling"] {
            assert_eq!(ended(&inv(s, s, -1)), None, "{s}");
        }
        assert!(matches!(
            ended(&inv("Success", "Success", 0)),
            Some(Ended::Exited { code: 0, .. })
        ));
        assert!(matches!(
            ended(&inv("Failed", "Failed", 3)),
            Some(Ended::Exited { code: 3, .. })
        ));
        assert_eq!(
            ended(&inv("TimedOut", "ExecutionTimedOut", -1)),
            Some(Ended::TimedOut)
        );
        assert!(matches!(
            ended(&inv("TimedOut", "DeliveryTimedOut", -1)),
            Some(Ended::NotDelivered(_))
        ));
        assert!(matches!(
            ended(&inv("Failed", "Undeliverable", -1)),
            Some(Ended::NotDelivered(_))
        ));
        assert!(matches!(
            ended(&inv("Undeliverable", "Undeliverable", -1)),
            Some(Ended::NotDelivered(_))
        ));
        assert!(matches!(
            ended(&inv("Failed", "AccessDenied", -1)),
            Some(Ended::Refused(_))
        ));
        assert!(matches!(
            ended(&inv("Cancelled", "Cancelled", -1)),
            Some(Ended::NotDelivered(_))
        ));
        assert!(matches!(
            ended(&inv("Terminated", "Terminated", -1)),
            Some(Ended::NotDelivered(_))
        ));
    }

    #[test]
    fn inline_output_at_the_limit_counts_as_cut() {
        let mut i = inv("Success", "Success", 0);
        i.standard_output_content = "x".repeat(INLINE_STDOUT);
        let Some(Ended::Exited {
            stdout_cut,
            stderr_cut,
            ..
        }) = ended(&i)
        else {
            panic!("exited");
        };
        assert!(stdout_cut && !stderr_cut);
    }
}
