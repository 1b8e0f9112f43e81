//! AFL target: the Ansible INI inventory parser and import.
fn main() {
    afl::fuzz!(|data: &[u8]| fearless_fuzz::ansible(data, "hosts.ini"));
}
