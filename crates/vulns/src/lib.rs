//! Vulnerability feeds, read offline from files the user provides, matched against hosts'
//! packages, and the manifest that closes what applies.
//!
//! - [`load`]: `--feed` paths (a file, a directory, a zip as OSV publishes per ecosystem,
//!   any of them gzipped) into one [`Feed`]; the format of each document is told by its
//!   content; every problem is a [`FeedError`] located by file (and zip member),
//!   line:column or record — a feed is used whole or not at all;
//! - `osv`, `tracker`, `alas`: the three formats (OSV records, Debian's security-tracker
//!   JSON, yum `updateinfo.xml` as Amazon Linux publishes ALAS), each into [`Advisory`]s
//!   whose entries are scoped to one release ([`Scope`]) and one package, by source
//!   ([`By::Source`]) or binary name, with versions parsed by the family's rules;
//! - [`assess`]: the [`Index`] of every entry and its [`Index::assess`] of one host (by
//!   source package and version, the release's own version order), the [`Report`] with
//!   each [`Finding`], and [`Report::offer`] of the versions the host's repositories
//!   offer;
//! - [`fix`]: [`fix::plan`], the exact pins that close a selection of advisories on a set
//!   of hosts, or why they cannot.
//!
//! No I/O but reading the feed files; hosts are read by `fearless-engine`.

mod alas;
pub mod assess;
pub mod error;
pub mod fix;
pub mod load;
pub mod model;
mod osv;
mod tracker;

pub use assess::{Binary, Finding, Host, Index, Offer, Report};
pub use error::FeedError;
pub use fix::{FixPlan, HostFindings, Selection};
pub use load::load;
pub use model::{Advisory, Affected, By, Feed, FeedSource, Format, Scope, Status};
