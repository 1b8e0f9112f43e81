//! Package versions and, later, the package backends, tested against the real tools.

mod common;
mod version_oracle;
