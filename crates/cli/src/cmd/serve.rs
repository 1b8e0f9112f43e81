//! `fearless serve` (the dashboard, `fearless_serve`, with the monitor running the test
//! plan beside it) and `fearless user` (its users file).

use std::io::{IsTerminal, Read as _, Write as _};
use std::sync::Arc;

use fearless_serve::{App, Options, ServeError, Users};

use super::{load_config, load_inventory, open_store, print, print_json};
use crate::args::{Format, Global, ServeArgs, UserAction, UserArgs};
use crate::exit::{Failure, Outcome};

pub(crate) async fn run(g: &Global, a: ServeArgs) -> Result<Outcome, Failure> {
    if !matches!(g.format, Format::Human | Format::Json) {
        return Err(Failure::bad_input(
            "`serve` logs human or json",
            Some("--format json writes the logs as JSON lines"),
        ));
    }
    let config = Arc::new(load_inventory(g).await?);
    let options = Options {
        listen: a.listen.unwrap_or(config.serve.listen),
        users: config.serve.users.clone(),
        open_read: config.serve.open_read,
        files: config.serve.files.clone(),
    };
    let store = Arc::new(open_store(g, &config).await?);
    let events = Arc::new(super::events::events_for(&config));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let app = App::new(
        Arc::clone(&config),
        Arc::clone(&store),
        Arc::clone(&events),
        options.clone(),
        stopping.clone(),
    )
    .map_err(|e| match e {
        ServeError::Unprotected(..) => Failure::bad_input(
            e.to_string(),
            Some("add a user (`fearless user add NAME`, with serve.users set) or listen on 127.0.0.1"),
        ),
        e => Failure::bad_input(e.to_string(), None),
    })?;
    let listener = fearless_serve::bind(options.listen)
        .await
        .map_err(|e| Failure::Environment(e.into()))?;
    let local = listener
        .local_addr()
        .map_err(|e| Failure::Environment(e.into()))?;
    tracing::info!(target: "fearless::serve", address = %local, store = %store.location(), "listening");
    if !g.quiet {
        let _ = writeln!(
            std::io::stderr(),
            "fearless serve: http://{local}/ (store {})",
            store.location()
        );
    }

    if !a.no_monitor {
        tracing::info!(
            target: "fearless::serve",
            "monitor: every {}, history kept {}",
            humantime::format_duration(config.monitor.interval),
            humantime::format_duration(config.monitor.retention)
        );
    }
    // The monitor runs the test plan on its interval until the server stops; the pass in
    // progress finishes first.
    let monitor = (!a.no_monitor).then(|| {
        let (config, store, events) =
            (Arc::clone(&config), Arc::clone(&store), Arc::clone(&events));
        let mut stopping = stopping.clone();
        let monitor = fearless_engine::monitor::Monitor::new(config.monitor);
        tokio::spawn(log_runs(monitor.status()));
        tokio::spawn(async move {
            let engine = fearless_engine::Engine {
                config: &config,
                store: &store,
                events: &events,
                actor: fearless_engine::identity::Who::from("monitor"),
                progress: &fearless_engine::Silent,
                clock: &fearless_engine::SystemClock,
            };
            monitor
                .run(engine, async move {
                    let _ = stopping.wait_for(|s| *s).await;
                })
                .await;
        })
    });

    let shutdown = async move {
        shutdown_signal().await;
        tracing::info!(target: "fearless::serve", "stopping: finishing requests and the check pass in progress");
        let _ = stop.send(true);
    };
    let served = fearless_serve::serve(app, listener, shutdown).await;
    if let Some(m) = monitor {
        let _ = m.await;
    }
    store.close().await;
    served.map_err(|e| Failure::Environment(e.into()))?;
    tracing::info!(target: "fearless::serve", "stopped");
    Ok(Outcome::Success)
}

/// One log line per monitor pass (its run, time, counts, confirmed transitions), and its
/// failures, until the monitor is gone.
async fn log_runs(
    mut status: tokio::sync::watch::Receiver<fearless_engine::monitor::MonitorStatus>,
) {
    let mut passes = 0;
    while status.changed().await.is_ok() {
        let s = status.borrow_and_update().clone();
        if s.passes == passes {
            continue;
        }
        passes = s.passes;
        if let Some(e) = &s.error {
            tracing::warn!(target: "fearless::serve", error = %e, "monitor pass failed");
        } else if let Some(last) = &s.last {
            let c = &last.counts;
            tracing::info!(
                target: "fearless::serve",
                run = last.id,
                ms = last.duration_ms,
                pass = c.pass,
                degraded = c.degraded,
                fail = c.fail,
                error = c.error,
                skipped = c.skipped,
                transitions = last.transitions,
                pruned = last.pruned,
                "monitor run recorded"
            );
        }
    }
}

/// SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

/// `fearless user add|list|remove`.
pub(crate) fn user(g: &Global, a: UserArgs) -> Result<Outcome, Failure> {
    if !matches!(g.format, Format::Human | Format::Json) {
        return Err(Failure::bad_input("`user` prints human or json", None));
    }
    let config = load_config(g)?;
    let Some(path) = config.serve.users else {
        return Err(Failure::bad_input(
            "no users file: serve.users is not set in the configuration",
            Some("add `serve: { users: users.txt }` to fearless.yaml"),
        ));
    };
    let mut users = Users::load(&path).map_err(|e| Failure::bad_input(e.to_string(), None))?;
    match a.action {
        UserAction::List => {
            let names: Vec<&str> = users.names().collect();
            if g.format == Format::Json {
                print_json(&UsersJson {
                    schema: "fearless.users/v1",
                    users: &names,
                })?;
            } else if names.is_empty() {
                print(&format!("no user in {}\n", path.display()))?;
            } else {
                print(&format!("{}\n", names.join("\n")))?;
            }
        }
        UserAction::Remove { name } => {
            if !users.remove(&name) {
                return Err(Failure::bad_input(
                    format!(
                        "no user `{}` in {}",
                        fearless_io::Escaped(&name),
                        path.display()
                    ),
                    Some("`fearless user list` lists them"),
                ));
            }
            users
                .save(&path)
                .map_err(|e| Failure::Environment(e.into()))?;
            print(&format!("removed {name} from {}\n", path.display()))?;
        }
        UserAction::Add {
            name,
            password_stdin,
            generate,
        } => {
            if !fearless_serve::auth::valid_name(&name) {
                return Err(Failure::bad_input(
                    fearless_serve::UsersError::Name(name).to_string(),
                    None,
                ));
            }
            let password = if generate {
                fearless_serve::auth::token()
            } else if password_stdin {
                let mut text = String::new();
                std::io::stdin()
                    .take(4096)
                    .read_to_string(&mut text)
                    .map_err(|e| {
                        Failure::bad_input(
                            format!("cannot read the password from stdin: {e}"),
                            None,
                        )
                    })?;
                text.lines().next().unwrap_or("").to_owned()
            } else if std::io::stdin().is_terminal() {
                let first = rpassword::prompt_password(format!("password for {name}: "))
                    .map_err(|e| Failure::Environment(e.into()))?;
                let again = rpassword::prompt_password("again: ")
                    .map_err(|e| Failure::Environment(e.into()))?;
                if first != again {
                    return Err(Failure::bad_input(
                        "the two passwords differ; nothing was changed",
                        None,
                    ));
                }
                first
            } else {
                return Err(Failure::bad_input(
                    "no terminal to ask the password on",
                    Some("pipe it with --password-stdin, or --generate a token"),
                ));
            };
            let existed = users.names().any(|n| n == name);
            users
                .set(&name, &password)
                .map_err(|e| Failure::bad_input(e.to_string(), None))?;
            users
                .save(&path)
                .map_err(|e| Failure::Environment(e.into()))?;
            let verb = if existed {
                "changed the password of"
            } else {
                "added"
            };
            if generate {
                print(&format!(
                    "{verb} {name} in {}; its token (shown once): {password}\n",
                    path.display()
                ))?;
            } else {
                print(&format!("{verb} {name} in {}\n", path.display()))?;
            }
        }
    }
    Ok(Outcome::Success)
}

/// `user list --format json`: the dashboard's users, by name.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct UsersJson<'a> {
    /// `fearless.users/v1`.
    #[schemars(extend("const" = "fearless.users/v1"))]
    schema: &'static str,
    /// Their names.
    users: &'a [&'a str],
}
