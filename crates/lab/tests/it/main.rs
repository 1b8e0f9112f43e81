//! Integration tests of the lab: one binary (see `common` for the shared helpers).
//!
//! The end-to-end tests build real labs as root (two Debian hosts; one Debian host and the
//! RPM host). They fail (they do not skip) when not root or when debootstrap, rpmbuild or
//! createrepo_c is missing: a lab test that silently skips proves nothing.

mod common;
mod e2e;
mod errors;
mod rehearsal;
mod rpm;
