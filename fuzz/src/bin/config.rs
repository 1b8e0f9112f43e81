//! AFL target: the `fearless.yaml` loader (YAML parser, typed pass, validation).
fn main() {
    afl::fuzz!(|data: &[u8]| fearless_fuzz::config(data));
}
