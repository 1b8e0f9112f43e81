//! The `ssm` transport: commands as AWS Systems Manager Run Command scripts
//! (`AWS-RunShellScript`). The script is the argv quoted by [`crate::quote`] — the one
//! place argv becomes shell text, as over ssh — so data stays quoted positional
//! parameters. A fleet's hosts share one [`fearless_aws::ssm::Runner`] per region and
//! endpoint: identical scripts sent at once go in one `SendCommand` of up to 50 instances,
//! each host's result is polled on its own, every call under one limiter.
//!
//! How it ends: `Success`/`Failed` is an [`Output`] with the script's exit code (an output
//! longer than SSM returns inline is flagged cut, so our scripts' answers are errors, never
//! read short); `TimedOut` at `executionTimeout` (the deadline, whole seconds) is
//! [`ExecError::Timeout`]; not delivered (not a managed node, agent offline) is
//! [`ExecError::Unreachable`]; refused by IAM or the agent is [`ExecError::Auth`].

use crate::{ExecError, Limits, Output, quote};
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
        let script = quote::shell_join(argv).map_err(|source| ExecError::Quote {
            host: self.host.clone(),
            source,
        })?;
        let runner = self
            .runner
            .as_ref()
            .map_err(|e| self.aws_error(e.clone()))?;
        let start = Instant::now();
        match runner.run(&self.instance, &script, timeout).await {
            Ok(Ended::Exited {
                code,
                stdout,
                stderr,
                stdout_cut,
                stderr_cut,
            }) => {
                let (stdout, out_capped) = capped(stdout, self.limits.max_output);
                let (stderr, err_capped) = capped(stderr, self.limits.max_output);
                Ok(Output {
                    code: Some(code),
                    stdout,
                    stderr,
                    stdout_truncated: stdout_cut || out_capped,
                    stderr_truncated: stderr_cut || err_capped,
                    elapsed: start.elapsed(),
                })
            }
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

fn capped(text: String, max: usize) -> (Vec<u8>, bool) {
    let mut bytes = text.into_bytes();
    if bytes.len() > max {
        bytes.truncate(max);
        (bytes, true)
    } else {
        (bytes, false)
    }
}
