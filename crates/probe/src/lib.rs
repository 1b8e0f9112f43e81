//! Check kinds and the check runner: the environment test plan.
//!
//! [`runner::plan`] expands a [`fearless_config::Config`] into plan items; a
//! [`runner::Runner`] executes them (host-local kinds through `fearless-exec`, network kinds
//! from the controller via [`net`]) and returns one [`result::CheckResult`] per item;
//! [`baseline`] saves runs and diffs new ones against them. This crate never prints and
//! never touches SQL.

pub mod baseline;
mod hostlocal;
pub mod net;
pub mod result;
pub mod runner;
