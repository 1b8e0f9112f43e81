//! Package state across the fleet.
//!
//! This crate will hold the package-manager backends (apt/dpkg and dnf/rpm behind one
//! `PackageManager` trait), snapshots, manifests and rollback. Today it holds the piece
//! everything else builds on: [`version`], the exact version orderings of dpkg and rpm.

pub mod version;
