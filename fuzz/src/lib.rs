//! The fuzz targets' bodies live in `tests/rust/fuzz_logic.rs`, shared with the stable-Rust
//! corpus replay (`tests/rust/fuzz_corpus.rs`); each `fuzz_targets/<name>.rs` calls one of them.

#[path = "../../tests/rust/fuzz_logic.rs"]
mod logic;

pub use logic::*;
