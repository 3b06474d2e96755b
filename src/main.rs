//! `hermes`: the binary. Placeholder until the CLI lands.
fn main() {}
