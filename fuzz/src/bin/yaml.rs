//! AFL target: the Ansible YAML inventory parser and import.
fn main() {
    afl::fuzz!(|data: &[u8]| fearless_fuzz::ansible(data, "hosts.yml"));
}
