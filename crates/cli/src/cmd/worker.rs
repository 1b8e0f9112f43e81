//! `fearless worker --rollout R | --check ROUND`: join a rollout started with `patch
//! --workers`, or a check round opened by `check --workers`, from another process or machine
//! (`Engine::work`, `Engine::work_check`), and say what this worker did once it is over.

use fearless_engine::check_round::CheckWorkerEnd;
use fearless_engine::record::HostEnd;
use fearless_engine::rollout::{self, WorkRequest, WorkerEnd};
use fearless_rollout::{HostState, RolloutState};
use schemars::JsonSchema;
use serde::Serialize;

use super::{Session, only_human_or_json, print, print_json};
use crate::args::{Format, Global, WorkerArgs};
use crate::exit::{Failure, Outcome};
use crate::render;

/// `worker --format json`: what one worker did on a rollout.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct WorkerJson<'a> {
    /// `fearless.worker/v1`.
    #[schemars(extend("const" = "fearless.worker/v1"))]
    schema: &'static str,
    /// `R-N`.
    #[schemars(pattern(r"^R-[0-9]+$"))]
    id: String,
    /// This worker's id (machine, process id, random part).
    worker: &'a str,
    /// The rollout's state when the worker stopped.
    #[schemars(with = "String")]
    state: RolloutState,
    /// The hosts whose end this worker wrote.
    hosts: Vec<WorkedHost<'a>>,
}

/// One host a worker brought to an end.
#[derive(Debug, Serialize, JsonSchema)]
struct WorkedHost<'a> {
    /// Inventory name.
    host: &'a str,
    /// Its wave, from 1.
    wave: usize,
    /// Its state at its end.
    #[schemars(with = "String")]
    state: HostState,
    /// What happened, in words.
    detail: &'a str,
    /// Taken over from a worker whose lease expired.
    taken_over: bool,
}

pub(crate) async fn run(g: &Global, a: WorkerArgs) -> Result<Outcome, Failure> {
    only_human_or_json(g, "worker")?;
    // Checked before the store is opened: bad input is said as such.
    let n = a.rollout.as_deref().map(rollout::number).transpose()?;
    if a.workers == 0 {
        return Err(Failure::bad_input(
            "--workers 0: a worker works on at least one host at a time",
            Some("leave it out for one host at a time"),
        ));
    }
    let session = Session::open(g).await?;
    let outcome = async {
        let engine = session.acting()?;
        match (n, &a.check) {
            (Some(n), _) => {
                let end = engine
                    .work(WorkRequest {
                        rollout: n,
                        tasks: a.workers,
                    })
                    .await?;
                show(g, &end)
            }
            (None, Some(round)) => {
                let end = engine.work_check(round, a.workers, &|_| {}).await?;
                show_check(g, &end)
            }
            // clap requires one of them.
            (None, None) => Err(Failure::bad_input("--rollout or --check", None)),
        }
    }
    .await;
    session.close().await;
    outcome?;
    Ok(Outcome::Success)
}

/// `worker --check ROUND --format json`: what one worker did in a check round.
#[derive(Debug, Serialize, JsonSchema)]
pub(crate) struct CheckWorkerJson<'a> {
    /// `fearless.check-worker/v1`.
    #[schemars(extend("const" = "fearless.check-worker/v1"))]
    schema: &'static str,
    /// The round's id.
    id: &'a str,
    /// This worker's id (machine, process id, random part).
    worker: &'a str,
    /// The hosts whose checks this worker ran.
    hosts: &'a [String],
    /// Of those, the ones it took over from a worker whose lease expired.
    taken_over: &'a [String],
}

fn show_check(g: &Global, end: &CheckWorkerEnd) -> Result<(), Failure> {
    if g.format == Format::Json {
        return print_json(&CheckWorkerJson {
            schema: "fearless.check-worker/v1",
            id: &end.round,
            worker: &end.worker,
            hosts: &end.hosts,
            taken_over: &end.taken_over,
        });
    }
    print(&format!(
        "check round {} is done: worker {} checked {} host(s) ({}), {} taken over\n",
        render::text(&end.round),
        render::text(&end.worker),
        end.hosts.len(),
        render::names(&end.hosts),
        end.taken_over.len()
    ))
}

fn show(g: &Global, end: &WorkerEnd) -> Result<(), Failure> {
    let taken = |e: &HostEnd| end.taken_over.contains(&e.host);
    if g.format == Format::Json {
        return print_json(&WorkerJson {
            schema: "fearless.worker/v1",
            id: format!("R-{}", end.rollout),
            worker: &end.worker,
            state: end.state,
            hosts: end
                .hosts
                .iter()
                .map(|e| WorkedHost {
                    host: &e.host,
                    wave: e.wave,
                    state: e.state,
                    detail: &e.detail,
                    taken_over: taken(e),
                })
                .collect(),
        });
    }
    let mut text = String::new();
    if !end.hosts.is_empty() {
        let t = super::patch::ends_table(end.hosts.iter().map(|e| {
            let detail = if taken(e) {
                format!("(taken over) {}", e.detail)
            } else {
                e.detail.clone()
            };
            (e, detail)
        }));
        text.push_str(&format!("{t}\n"));
    }
    text.push_str(&format!(
        "R-{} is {}: worker {} stops after {} host(s), {} taken over\n",
        end.rollout,
        end.state,
        render::text(&end.worker),
        end.hosts.len(),
        end.taken_over.len()
    ));
    print(&text)
}
