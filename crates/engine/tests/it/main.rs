//! Tests of the engine that need no host: the records written by the release before typed
//! records read through today's types (a golden store), and post-incident reports built from
//! stories written through the store, each saying what the records show and nothing else;
//! the continuous test plan on checks of local listeners.

mod common;
mod golden;
mod monitor;
mod reports;
