//! Integration tests of fearless-events against real things on loopback: RabbitMQ at
//! 127.0.0.1:5672 (required: these tests fail, not skip, without it), local HTTP servers,
//! files.

mod amqp;
mod common;
mod file_and_routing;
mod http;
