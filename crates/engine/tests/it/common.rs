//! A store and an engine over a config, in a temporary directory.

use std::path::{Path, PathBuf};

use fearless_engine::{Engine, Silent, SystemClock};
use fearless_events::Events;
use fearless_store::Store;

/// What an engine needs, owned.
pub(crate) struct World {
    pub(crate) config: fearless_config::Config,
    pub(crate) store: Store,
    pub(crate) events: Events,
    _dir: tempfile::TempDir,
}

impl World {
    /// `config_yaml` as the config, and the store at `store` (copied into the temporary
    /// directory when given, else a new one).
    pub(crate) async fn new(config_yaml: &str, store: Option<&Path>) -> Self {
        let dir = tempfile::tempdir().expect("tmp");
        let config_path = dir.path().join("fearless.yaml");
        std::fs::write(&config_path, config_yaml).expect("write config");
        let config = fearless_config::load(&config_path).expect("config").config;
        let db: PathBuf = dir.path().join("state.db");
        if let Some(from) = store {
            std::fs::copy(from, &db).expect("copy store");
        }
        let store = Store::open(&format!("sqlite:{}", db.display()))
            .await
            .expect("store");
        let events = Events::new(&config.events, &dir.path().join("outbox"));
        Self {
            config,
            store,
            events,
            _dir: dir,
        }
    }

    /// The temporary directory the config and the store are in.
    pub(crate) fn dir(&self) -> &Path {
        self._dir.path()
    }

    pub(crate) fn engine<'a>(&'a self, actor: &'a str) -> Engine<'a> {
        Engine {
            config: &self.config,
            store: &self.store,
            events: &self.events,
            actor: actor.into(),
            progress: &Silent,
            clock: &SystemClock,
        }
    }
}

/// The fixture directory of the golden store.
pub(crate) fn v1() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1")
}

/// Run `body` with times and durations in snapshots redacted.
#[macro_export]
macro_rules! redacted {
    ($body:block) => {
        insta::with_settings!({filters => vec![
            (r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}", "[TIME]"),
            (r"\d{2}:\d{2} UTC", "[HH:MM] UTC"),
            (r"\| duration \| [^|]+ \|", "| duration | [DURATION] |"),
            (r"\d+(h|m|s)( \d+(m|s))? after the impact started", "[DURATION] after the impact started"),
        ]}, $body)
    };
}
