//! The AWS side of fearless: EC2 discovery of hosts ([`discover`]), AWS Systems Manager
//! Run Command ([`ssm`]), and the SQS and SNS calls of the `sqs` check and the `sqs`/`sns`
//! event sinks ([`sqs`], [`sns`]), on one small signed client ([`Client`]).
//!
//! Why not the SDK's service crates: fearless calls a dozen operations of four services,
//! and each SDK service crate is tens to hundreds of thousands of generated lines (the EC2
//! one alone is minutes of every cold build). The pieces that are hard to get right are the
//! SDK's own: SigV4 signing (`aws-sigv4`) and the credential chain (`aws-config`:
//! environment, profiles, SSO, web identity, container and instance roles).
//!
//! Invariants: credentials are never logged or put in an error; every call has a
//! deadline; throttling is retried with backoff and jitter; an answer that cannot be read
//! is an error, never an empty result.

mod chain_http;
mod client;
pub mod discover;
pub mod ec2;
pub mod sns;
pub mod sqs;
pub mod ssm;

pub use aws_credential_types::Credentials;
pub use client::{AwsError, Calls, Client, ClientOptions, Unreached, http_client};
