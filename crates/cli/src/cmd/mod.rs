//! One module per verb; `dispatch` routes the parsed command line.

mod bisect;
mod change;
mod check;
mod demo;
mod discover;
mod drift;
mod events;
mod hosts;
mod incident;
mod init;
mod journal;
mod lab;
mod map;
mod meta;
mod os;
mod packages;
mod parity;
mod patch;
mod progress;
mod rca;
mod rehearse;
mod scan;
#[cfg(test)]
mod schemas;
mod serve;
mod vulns;
mod worker;

use crate::args::{Cli, Command, Global};
use crate::exit::{Failure, Outcome};
use fearless_engine::identity::{Actor, Authenticated, Claim, IdentityError, Vouch};
use fearless_engine::{Engine, SystemClock};
use fearless_store::{Access, ErrorClass, Store, StoreError};
use std::io::Write;

pub(crate) async fn dispatch(cli: Cli) -> Result<Outcome, Failure> {
    match cli.command {
        Command::Check(a) => check::run(&cli.global, a).await,
        Command::Hosts(a) => hosts::run(&cli.global, a).await,
        Command::Change(a) => change::run(&cli.global, *a).await,
        Command::Journal(a) => journal::run(&cli.global, a).await,
        Command::Events(a) => events::run(&cli.global, a).await,
        Command::Lab(a) => lab::run(&cli.global, a).await,
        Command::Packages(a) => packages::run(&cli.global, a).await,
        Command::Snapshot(a) => packages::snapshot(&cli.global, a).await,
        Command::Whatchanged(a) => packages::whatchanged(&cli.global, a).await,
        Command::Patch(a) => patch::run(&cli.global, a).await,
        Command::Rollout(a) => patch::rollout(&cli.global, a).await,
        Command::Worker(a) => worker::run(&cli.global, a).await,
        Command::Incident(a) => incident::run(&cli.global, a).await,
        Command::Bisect(a) => bisect::run(&cli.global, a).await,
        Command::Rca(a) => rca::run(&cli.global, a).await,
        Command::Demo(a) => demo::run(&cli.global, a).await,
        Command::Map(a) => map::run(&cli.global, a).await,
        Command::Discover(a) => discover::run(&cli.global, a).await,
        Command::Init(a) => init::run(&cli.global, a).await,
        Command::Completions { shell } => meta::completions(shell),
        Command::Man { dir } => meta::man(dir.as_deref()),
        Command::Scan(a) => scan::run(&cli.global, a),
        Command::Os(a) => os::run(&cli.global, a).await,
        Command::Parity(a) => parity::run(&cli.global, a).await,
        Command::Rehearse(a) => rehearse::run(&cli.global, a).await,
        Command::Vulns(a) => vulns::run(&cli.global, a).await,
        Command::Serve(a) => serve::run(&cli.global, a).await,
        Command::User(a) => serve::user(&cli.global, a),
    }
}

/// Load the configuration, printing its warnings; errors become exit code 2.
pub(crate) fn load_config(g: &Global) -> Result<fearless_config::Config, Failure> {
    let path = fearless_config::discover(g.config.as_deref());
    let loaded = fearless_config::load(&path).map_err(Failure::Config)?;
    if !g.quiet {
        let mut err = std::io::stderr().lock();
        for w in &loaded.warnings {
            let _ = writeln!(err, "{}", w.plain());
        }
    }
    Ok(loaded.config)
}

/// Load the configuration and complete its inventory: the hosts every `inventory.ec2`
/// source discovers join the declared ones (answers cached in the store when it exists and
/// can be written; `--refresh` asks again). An unreachable AWS endpoint is exit 3; a
/// discovered name that is taken, or a filter EC2 refuses, is a located config error.
pub(crate) async fn load_inventory(g: &Global) -> Result<fearless_config::Config, Failure> {
    let mut config = load_config(g)?;
    if !config.inventory.ec2.is_empty() {
        discover_hosts(g, &mut config).await?;
    }
    Ok(config)
}

async fn discover_hosts(g: &Global, config: &mut fearless_config::Config) -> Result<(), Failure> {
    use fearless_engine::inventory::{InventoryError, discover};
    // The cache needs a store that exists and can be written; without one, ask every time.
    let store = Store::open_existing(&store_url(g, config), Access::ReadWrite)
        .await
        .ok();
    let found = discover(config, store.as_ref(), g.refresh).await;
    if let Some(store) = store {
        store.close().await;
    }
    match found {
        Ok(reports) => {
            if !g.quiet {
                let mut err = std::io::stderr().lock();
                for r in &reports {
                    if let Some(why) = &r.not_cached {
                        let _ = writeln!(
                            err,
                            "warning: inventory.ec2[{}]: the answer was not kept in the store: {}",
                            r.index,
                            fearless_io::escape_terminal(why)
                        );
                    }
                    for (id, why) in &r.skipped {
                        let _ = writeln!(
                            err,
                            "warning: inventory.ec2[{}]: instance {id} is not a host: {}",
                            r.index,
                            fearless_io::escape_terminal(why)
                        );
                    }
                }
            }
            Ok(())
        }
        Err(InventoryError::Config(e)) => Err(Failure::Config(e)),
        Err(e @ InventoryError::Aws { .. }) => Err(Failure::Environment(anyhow::Error::new(e))),
    }
}

/// Who is acting ([`fearless_engine::identity`]): the claim (`--as NAME`, else
/// `$FEARLESS_USER`) weighed against what authenticated the caller — the store's database
/// role on PostgreSQL, else the OS account of the process (never `$USER`) — under the
/// config's `identity.mode`.
pub(crate) async fn identify(
    g: &Global,
    config: &fearless_config::Config,
    store: &Store,
) -> Result<Actor, Failure> {
    identify_signing(g, config, store)
        .await
        .map(|(actor, _)| actor)
}

/// [`identify`], and the signer of the actor's state changes when a signing key is set
/// (`$FEARLESS_SIGNING_KEY`, else `identity.signing_key`): the key's name in
/// `identity.allowed_signers` is who acts, and vouched for by the key.
pub(crate) async fn identify_signing(
    g: &Global,
    config: &fearless_config::Config,
    store: &Store,
) -> Result<(Actor, Option<fearless_sign::KeygenSigner>), Failure> {
    let from_env = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let claim = g
        .as_user
        .clone()
        .filter(|v| !v.trim().is_empty())
        .map(|name| Claim { name, from: "--as" })
        .or_else(|| {
            from_env("FEARLESS_USER").map(|name| Claim {
                name,
                from: "$FEARLESS_USER",
            })
        });
    let signing = signing_identity(config, claim.as_ref())?;
    let authenticated = match &signing {
        Some((name, _)) => Ok(Authenticated {
            name: name.clone(),
            by: Vouch::SshKey,
        }),
        None => match store.database_role().await {
            Ok(Some(role)) => Ok(Authenticated {
                name: role,
                by: Vouch::DatabaseRole,
            }),
            Ok(None) => fearless_io::account::current()
                .map(|a| Authenticated {
                    name: a.name,
                    by: Vouch::OsAccount,
                })
                .map_err(|e| e.to_string()),
            Err(e) => Err(format!(
                "the store could not say which role it runs as: {e}"
            )),
        },
    };
    let actor = fearless_engine::identity::resolve(config.identity.mode, claim, authenticated)
        .map_err(|e| match e {
            IdentityError::NotYou { .. } => Failure::Gate {
                message: e.to_string(),
                hint: Some(
                    "act as yourself: sign with your own key, connect to the store as your own role, or run fearless as your own account"
                        .into(),
                ),
            },
            IdentityError::BadName { .. } => Failure::bad_input(
                e.to_string(),
                Some("names are journaled and shown as they are: letters, digits, `.`, `-`, `_`, `@`"),
            ),
            IdentityError::Unknown { .. } => Failure::bad_input(
                e.to_string(),
                Some("run fearless as an account the user database knows, or connect to a PostgreSQL store as your own role"),
            ),
        })?;
    // A name taken at its word (trust) is not the key's: its entries are not signed.
    let signer = signing
        .filter(|_| actor.by == Vouch::SshKey)
        .map(|(_, signer)| signer);
    Ok((actor, signer))
}

/// The signing key's holder: `$FEARLESS_SIGNING_KEY` or `identity.signing_key` (`~/` the
/// OS account's home, else relative to the config), named by `identity.allowed_signers`
/// now. `None` when no key is set.
fn signing_identity(
    config: &fearless_config::Config,
    claim: Option<&Claim>,
) -> Result<Option<(String, fearless_sign::KeygenSigner)>, Failure> {
    let (written, from) = match std::env::var("FEARLESS_SIGNING_KEY")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        Some(v) => (v, "$FEARLESS_SIGNING_KEY"),
        None => match &config.identity.signing_key {
            Some(v) => (v.clone(), "identity.signing_key"),
            None => return Ok(None),
        },
    };
    let path = match written.strip_prefix("~/") {
        Some(rest) => fearless_io::account::current()
            .map_err(|e| {
                Failure::bad_input(
                    format!("{from} {written}: `~` is the home of the OS account, and {e}"),
                    None,
                )
            })?
            .home
            .join(rest),
        None => config
            .path
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join(&written),
    };
    let Some(allowed_path) = &config.identity.allowed_signers else {
        // An operator's key set for every config they use signs where the config names the
        // signers; one that names none (a lab, a demo) does not sign.
        if from == "$FEARLESS_SIGNING_KEY" {
            return Ok(None);
        }
        return Err(Failure::bad_input(
            "identity.signing_key is set, but identity.allowed_signers is not: nothing says whose key it is"
                .to_owned(),
            Some(
                "add `allowed_signers: FILE` under `identity:` (OpenSSH's format: `alice ssh-ed25519 AAAA…`)",
            ),
        ));
    };
    let signer = fearless_sign::KeygenSigner::new(&path)
        .map_err(|e| Failure::bad_input(format!("{from}: {e}"), None))?;
    let allowed = fearless_sign::AllowedSigners::read(allowed_path)
        .map_err(|e| Failure::bad_input(format!("identity.allowed_signers: {e}"), None))?;
    let names = allowed.names_of(signer.public_key(), jiff::Timestamp::now());
    let name = match (names.as_slice(), claim) {
        ([], _) => {
            return Err(Failure::Gate {
                message: format!(
                    "the signing key {} ({}) is not in {} for namespace fearless now, under a plain name",
                    signer.fingerprint(),
                    path.display(),
                    allowed.path()
                ),
                hint: Some(
                    "ask whoever keeps allowed_signers to add your public key with your name"
                        .into(),
                ),
            });
        }
        ([one], _) => one.clone(),
        (many, Some(c)) if many.contains(&c.name) => c.name.clone(),
        (many, _) => {
            return Err(Failure::bad_input(
                format!(
                    "the signing key {} is listed for {} in {}: say which with --as",
                    signer.fingerprint(),
                    many.join(", "),
                    allowed.path()
                ),
                None,
            ));
        }
    };
    Ok(Some((name, signer)))
}

/// Under `identity.mode: trust`, say on stderr that a claimed name acts unauthenticated.
pub(crate) fn warn_if_trusted(quiet: bool, actor: &Actor) {
    if actor.by == Vouch::Claim && !quiet {
        let _ = writeln!(
            std::io::stderr().lock(),
            "warning: acting as {} on the word of {} (identity.mode: trust): nothing authenticated it",
            fearless_io::Escaped(&actor.name),
            actor.claimed.unwrap_or("a claim")
        );
    }
}

/// The store URL: `--store`, else `store:` in the config, else SQLite beside the config.
pub(crate) fn store_url(g: &Global, config: &fearless_config::Config) -> String {
    if let Some(s) = &g.store {
        warn_password_in_argv(g, s);
        return s.clone();
    }
    match &config.store {
        // A relative sqlite path is relative to the config file, like every other path in it.
        Some(s) => match s.strip_prefix("sqlite:") {
            Some(p) if !std::path::Path::new(p).is_absolute() => {
                format!("sqlite:{}", config.base_dir().join(p).display())
            }
            _ => s.clone(),
        },
        None => format!(
            "sqlite:{}",
            config.base_dir().join(".fearless/state.db").display()
        ),
    }
}

/// A password given with `--store` on the command line is visible to every user of the
/// machine (`ps`); say so once, and where it belongs.
fn warn_password_in_argv(g: &Global, url: &str) {
    static WARNED: std::sync::Once = std::sync::Once::new();
    let from_env = std::env::var("FEARLESS_STORE").is_ok_and(|v| v == url);
    if g.quiet || from_env || fearless_config::redact_userinfo(url) == url {
        return;
    }
    WARNED.call_once(|| {
        let _ = writeln!(
            std::io::stderr().lock(),
            "warning: the password in --store is visible to every user of this machine (ps); \
             set FEARLESS_STORE, or keep it in $PGPASSWORD or ~/.pgpass"
        );
    });
}

/// Open the store named by `--store`, the config, or the default SQLite file.
pub(crate) async fn open_store(
    g: &Global,
    config: &fearless_config::Config,
) -> Result<Store, Failure> {
    Store::open(&store_url(g, config))
        .await
        .map_err(store_failure)
}

/// Open the store for a command that only reads: it must exist (nothing is created, a
/// mistyped path is exit 3) and is opened read-only, so it works on a store the user cannot
/// write. A store older than this fearless cannot be read read-only: it is migrated first,
/// where it can be written.
pub(crate) async fn open_store_to_read(
    g: &Global,
    config: &fearless_config::Config,
) -> Result<Store, Failure> {
    let url = store_url(g, config);
    match Store::open_existing(&url, Access::ReadOnly).await {
        Err(StoreError::Outdated {
            location,
            found,
            supported,
            ..
        }) => Store::open_existing(&url, Access::ReadWrite)
            .await
            .map_err(|e| {
                store_failure(StoreError::Outdated {
                    location,
                    found,
                    supported,
                    reason: Some(e.to_string()),
                })
            }),
        opened => opened.map_err(store_failure),
    }
}

/// Store errors to exit codes: bad input 2, a lost race 1 (nothing written), else 3.
pub(crate) fn store_failure(e: StoreError) -> Failure {
    match e.class() {
        ErrorClass::BadInput => Failure::bad_input(e.to_string(), None),
        ErrorClass::Conflict => Failure::Gate {
            message: e.to_string(),
            hint: Some(
                "someone changed it at the same time; nothing was written — run the command again"
                    .into(),
            ),
        },
        ErrorClass::Environment => Failure::Environment(anyhow::Error::new(e)),
    }
}

/// What a command needs to drive the engine: the config, the store, the sinks, who acts,
/// where progress goes. Opened once per command, closed at its end.
pub(crate) struct Session {
    pub(crate) config: fearless_config::Config,
    pub(crate) store: Store,
    events: fearless_events::Events,
    actor: Result<Actor, Failure>,
    progress: progress::Stderr,
    quiet: bool,
    warned: std::sync::atomic::AtomicBool,
}

impl Session {
    /// Load the config and open the store; who acts is asked only of commands that act.
    pub(crate) async fn open(g: &Global) -> Result<Self, Failure> {
        Self::opening(g, false).await
    }

    /// [`Session::open`] for a command that only reads: the store must exist, and is
    /// opened read-only.
    pub(crate) async fn open_to_read(g: &Global) -> Result<Self, Failure> {
        Self::opening(g, true).await
    }

    /// [`Session::open`] on a configuration already loaded (`fearless init`'s draft).
    pub(crate) async fn with_config(
        g: &Global,
        config: fearless_config::Config,
    ) -> Result<Self, Failure> {
        let store = open_store(g, &config).await?;
        Ok(Self::assemble(g, config, store).await)
    }

    async fn opening(g: &Global, read_only: bool) -> Result<Self, Failure> {
        let config = load_inventory(g).await?;
        let store = if read_only {
            open_store_to_read(g, &config).await?
        } else {
            open_store(g, &config).await?
        };
        Ok(Self::assemble(g, config, store).await)
    }

    /// The session of an open store: its sinks, and who acts (asked of the store or the OS).
    async fn assemble(g: &Global, config: fearless_config::Config, mut store: Store) -> Self {
        let events = events::events_for(&config);
        let actor = match identify_signing(g, &config, &store).await {
            Ok((actor, signer)) => {
                if let Some(signer) = signer {
                    store.set_signer(std::sync::Arc::new(signer));
                }
                Ok(actor)
            }
            Err(e) => Err(e),
        };
        Self {
            actor,
            config,
            store,
            events,
            progress: progress::Stderr::new(g.quiet),
            quiet: g.quiet,
            warned: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The engine for a command that changes something: who acts must be known.
    /// Under `identity.mode: trust`, a claimed name is said once per command to be
    /// unauthenticated.
    pub(crate) fn acting(&self) -> Result<Engine<'_>, Failure> {
        match &self.actor {
            Ok(actor) => {
                if !self.warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    warn_if_trusted(self.quiet, actor);
                }
                Ok(self.engine_as(actor.into()))
            }
            Err(Failure::BadInput { message, hint }) => Err(Failure::BadInput {
                message: message.clone(),
                hint: hint.clone(),
            }),
            Err(Failure::Gate { message, hint }) => Err(Failure::Gate {
                message: message.clone(),
                hint: hint.clone(),
            }),
            Err(_) => Err(Failure::bad_input("cannot tell who is acting", None)),
        }
    }

    /// The engine for a command that only reads.
    pub(crate) fn reading(&self) -> Engine<'_> {
        self.engine_as(self.actor.as_ref().map_or("".into(), Into::into))
    }

    fn engine_as<'s>(&'s self, actor: fearless_engine::identity::Who<'s>) -> Engine<'s> {
        Engine {
            config: &self.config,
            store: &self.store,
            events: &self.events,
            actor,
            progress: &self.progress,
            clock: &SystemClock,
        }
    }

    /// Close the store, waiting for work in progress.
    pub(crate) async fn close(self) {
        self.store.close().await;
    }
}

/// The longest wait any option takes (a bake, a lock wait): beyond it, a value is a slip.
const LONGEST_WAIT: std::time::Duration = std::time::Duration::from_secs(100 * 366 * 24 * 3600);
/// The furthest back a window reaches (`--since`): the clocks fearless uses end near year
/// -9999, so "everything" fits with room.
const LONGEST_WINDOW: std::time::Duration = std::time::Duration::from_secs(9_000 * 366 * 24 * 3600);

/// Parse a wait option (`30s`, `2m`, `7d`): not negative, at most 100 years.
pub(crate) fn duration(
    flag: &str,
    text: &str,
    example: &str,
) -> Result<std::time::Duration, Failure> {
    bounded(flag, text, example, LONGEST_WAIT, "100 years")
}

/// Parse a window option (`--since 24h`): not negative, at most 9,000 years back.
pub(crate) fn window(
    flag: &str,
    text: &str,
    example: &str,
) -> Result<std::time::Duration, Failure> {
    bounded(flag, text, example, LONGEST_WINDOW, "9000 years")
}

fn bounded(
    flag: &str,
    text: &str,
    example: &str,
    longest: std::time::Duration,
    said: &str,
) -> Result<std::time::Duration, Failure> {
    if text.trim_start().starts_with('-') {
        return Err(Failure::bad_input(
            format!("{flag} {text:?}: a duration cannot be negative"),
            Some(example),
        ));
    }
    let d = humantime::parse_duration(text)
        .map_err(|e| Failure::bad_input(format!("{flag} {text:?}: {e}"), Some(example)))?;
    if d > longest {
        return Err(Failure::bad_input(
            format!("{flag} {text:?}: longer than {said}"),
            Some(example),
        ));
    }
    Ok(d)
}

/// How large a file given on the command line may be (a manifest, a plan, a change file).
const INPUT_LIMIT: fearless_io::Limit = fearless_io::Limit::bytes(16 * 1024 * 1024);

/// Read a file given on the command line: a regular file (never a FIFO or a device, so
/// nothing blocks or grows without end), at most 16 MiB, UTF-8. Anything else is bad input.
pub(crate) fn read_input(path: &std::path::Path, what: &str) -> Result<String, Failure> {
    fearless_io::read_text(path, INPUT_LIMIT)
        .map_err(|e| Failure::bad_input(format!("{what}: {e}"), None))
}

/// Refuse, before any work, a target fearless will not replace (a device, a FIFO, a
/// directory, a symlink): only a regular file, or nothing yet.
pub(crate) fn writable(path: &std::path::Path) -> Result<(), Failure> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if !m.file_type().is_file() => Err(Failure::bad_input(
            format!(
                "cannot write {}: it is {}; fearless replaces only regular files",
                fearless_io::Escaped(&path.to_string_lossy()),
                fearless_io::FileKind::of(m.file_type())
                    .map_or_else(|| "not a regular file".to_owned(), |k| k.to_string())
            ),
            Some("give the path of a regular file (it is replaced atomically)"),
        )),
        _ => Ok(()),
    }
}

/// Write `contents` to a file given on the command line, atomically; a target that is not
/// a regular file is bad input, anything else the environment.
pub(crate) fn write_output(path: &std::path::Path, contents: &[u8]) -> Result<(), Failure> {
    fearless_io::write_atomic(path, contents).map_err(|e| match e {
        fearless_io::WriteError::NotRegular { .. } => Failure::bad_input(e.to_string(), None),
        e => Failure::Environment(e.into()),
    })
}

/// Read and validate a manifest file (`name=version` lines): every problem is bad input,
/// found before any host is contacted.
pub(crate) fn read_manifest(path: &std::path::Path) -> Result<fearless_pkg::Manifest, Failure> {
    let text = read_input(path, "manifest")?;
    fearless_pkg::Manifest::parse(&path.display().to_string(), &text)
        .map_err(|e| Failure::bad_input(e.to_string(), None))
}

/// Parse a `--hosts` selector.
pub(crate) fn selector(text: Option<&str>) -> Result<Option<fearless_config::Selector>, Failure> {
    text.map(|t| {
        fearless_config::Selector::parse(t).map_err(|e| {
            Failure::bad_input(
                format!("--hosts: {e}"),
                Some("selectors: all, NAME, web-*, role=web, group:NAME; comma = AND"),
            )
        })
    })
    .transpose()
}

/// Write `text` to stdout; a closed pipe ends quietly.
pub(crate) fn print(text: &str) -> Result<(), Failure> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

/// Serialise to pretty JSON on stdout.
pub(crate) fn print_json<T: serde::Serialize>(value: &T) -> Result<(), Failure> {
    let mut s = serde_json::to_string_pretty(value).map_err(|e| Failure::Environment(e.into()))?;
    s.push('\n');
    print(&s)
}

/// Refuse formats a command does not produce.
pub(crate) fn only_human_or_json(g: &Global, verb: &str) -> Result<(), Failure> {
    use crate::args::Format;
    match g.format {
        Format::Human | Format::Json => Ok(()),
        other => Err(Failure::bad_input(
            format!("`{verb}` prints human or json, not {other:?}").to_lowercase(),
            Some("use --format human or --format json"),
        )),
    }
}

/// A host's error in JSON output: its kind (`unreachable`, `parse`, …) and message.
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct ErrorJson {
    /// The kind of error.
    kind: &'static str,
    /// What happened.
    message: String,
}

impl ErrorJson {
    /// The JSON of a package-level error.
    pub(crate) fn of(e: &fearless_pkg::PkgError) -> Self {
        Self {
            kind: e.kind(),
            message: e.to_string(),
        }
    }
}

/// A host that could not be read, and why (the `errors` of fleet-wide reads).
#[derive(Debug, serde::Serialize, schemars::JsonSchema)]
pub(crate) struct HostMessage<'a> {
    /// Inventory name.
    pub(crate) host: &'a str,
    /// What happened.
    pub(crate) message: &'a str,
}
