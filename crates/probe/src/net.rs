//! Network check kinds, run from the controller: `http`, `tcp`, `dns`, `tls`, `amqp`, `sql`,
//! `sqs`, `ldap`.
//!
//! Each kind is one async function that takes the validated spec (templates already
//! expanded by the caller) and a per-attempt timeout, and returns an [`Outcome`]. A
//! component that does not answer as it must is a `fail` with a typed [`Reason`]
//! (`refused`, `timeout`, `dns`, `tls`, `auth`, or `assertion`); `error` with
//! [`Reason::Config`] is kept for checks that cannot run at all, such as an expanded URL that
//! does not parse. Messages are one line, say what was observed against what was expected,
//! and never carry the password of a URL. Nothing here panics on hostile input: sizes are
//! capped, parsers return errors, and every wait is bounded by the timeout.
//!
//! The [`NetContext`] is built once per run and shared by all checks: HTTP connections are
//! pooled across checks, and DNS resolvers are built once per name server.
//!
//! [`Outcome`]: crate::result::Outcome
//! [`Reason`]: crate::result::Reason
//! [`Reason::Config`]: crate::result::Reason::Config

mod amqp;
mod common;
mod context;
mod dns;
mod http;
mod ldap;
mod sql;
mod sqs;
mod tcp;
mod tls;

pub use amqp::amqp;
pub use context::{NetContext, NetError};
pub use dns::dns;
pub use http::http;
pub use ldap::ldap;
pub use sql::sql;
pub use sqs::sqs;
pub use tcp::tcp;
pub use tls::tls;
