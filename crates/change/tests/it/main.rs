//! Change records: the state machine, separation of duties, windows and conflicts.

mod common;
mod conflicts;
mod flows;
mod props;
