//! AFL harness: the first byte picks one of `Parser::HISTORY`, the rest is its input.

use fearless_pkg::fuzz::{Parser, dispatch};

fn main() {
    afl::fuzz!(|data: &[u8]| dispatch(&Parser::HISTORY, data));
}
