//! AFL harness: the first byte picks one of `Parser::DNF`, the rest is its input.

use fearless_pkg::fuzz::{Parser, dispatch};

fn main() {
    afl::fuzz!(|data: &[u8]| dispatch(&Parser::DNF, data));
}
