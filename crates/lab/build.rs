//! Rebuilds the crate when the embedded package sources in `lab/packages` change
//! (`include_dir!` cannot tell cargo on stable Rust).

fn main() {
    println!("cargo::rerun-if-changed=../../lab/packages");
}
