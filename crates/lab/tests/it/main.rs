//! Integration tests of the lab: one binary (see `common` for the shared helpers).
//!
//! The end-to-end test builds a real two-host lab as root. It fails (it does not skip)
//! when not root or when debootstrap is missing: a lab test that silently skips proves
//! nothing.

mod common;
mod e2e;
mod errors;
