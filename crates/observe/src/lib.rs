//! Which process on each host talks to what, and how that drifts from the declared
//! dependencies.
//!
//! - [`script`]: the constant sh scripts run on the hosts (a sample of the socket tables
//!   and of the processes that own sockets; the packages of programs).
//! - [`parse`]: their output → a typed [`Sample`] (pure, never panics).
//! - [`observe`](mod@observe): sample every host repeatedly over a window and merge into
//!   an [`Observation`] (serde: stored as JSON, diffed later).
//! - [`resolve`]: endpoints and processes → components, from the config.
//! - [`drift`](mod@drift): observed edges against `depends_on` → a [`Drift`]; [`sarif`]
//!   renders it as SARIF 2.1.0.
//!
//! Only `fearless-exec` reaches hosts; the scripts are constants with data as positional
//! parameters.

pub mod drift;
pub mod observe;
pub mod packages;
pub mod parse;
pub mod program;
pub mod resolve;
pub mod sarif;
pub mod script;

pub use drift::{
    Drift, ObservedEdge, Party, Unattributed, UndeclaredEdge, UnknownPeer, Use, drift,
};
pub use observe::{
    DEFAULT_INTERVAL, HostObservation, Observation, ObserveProgress, ObservedConnection,
    ObservedListener, ObservedProcess, Settings, observe, observe_fleet,
};
pub use parse::{
    Connection, Direction, Listener, ParseError, Proc, Sample, SampleStats, TcpState, parse,
};
pub use resolve::{Claim, Resolver, Seen, Served};
pub use sarif::{SarifLog, sarif};
