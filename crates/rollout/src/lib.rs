//! Patch rollouts, the pure part: wave planning ([`waves`]) and the persisted state
//! machine of each host with its crash recovery rule ([`host`]), and the states of a rollout
//! as a whole ([`state`]). No I/O: `fearless-engine` drives hosts through `fearless-pkg` and
//! `fearless-probe` and records every step in the store.
//!
//! Invariants: every host of a rollout lands in exactly one wave; a wave never takes more
//! hosts of a component than it may lose; a host is applied to only from its snapshot, and
//! a host found with the manifest already on it is verified, never applied again.

pub mod host;
pub mod state;
pub mod waves;

pub use host::{HostState, Live, Recovery, Step, recover};
pub use state::RolloutState;
pub use waves::{Member, WaveSize, default_max_unavailable, parse_waves, plan};
