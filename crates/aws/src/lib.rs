//! The AWS side of fearless: EC2 discovery of hosts ([`discover`]) and AWS Systems
//! Manager Run Command ([`ssm`]), on one small signed client ([`Client`]).
//!
//! Why not the SDK's service crates: fearless calls five operations of two services, and
//! the EC2 SDK crate alone is hundreds of thousands of generated lines (minutes of every
//! cold build, the cost #23 is about). The pieces that are hard to get right are the
//! SDK's own: SigV4 signing (`aws-sigv4`) and the credential chain (`aws-config`:
//! environment, profiles, SSO, web identity, container and instance roles).
//!
//! Invariants: credentials are never logged or put in an error; every call has a
//! deadline; throttling is retried with backoff and jitter; an answer that cannot be read
//! is an error, never an empty result.

mod client;
pub mod discover;
pub mod ec2;
pub mod ssm;

pub use aws_credential_types::Credentials;
pub use client::{AwsError, Calls, Client, ClientOptions};
