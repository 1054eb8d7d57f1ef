//! avito-auth: a client for Avito's authorization API (`POST /token`), compiled to WebAssembly.
//!
//! `core` is plain Rust (form encoding, URL validation, response classification, retry
//! decisions, redaction) and is tested natively. `wasm` is the thin boundary that converts values
//! to and from JS; it only exists on `wasm32`.
//!
//! The wasm build is `no_std` (+ `alloc`): with our own allocator and a panic handler that traps
//! without formatting, no panic message is ever built, so `core::fmt` drops out of the binary —
//! what `panic = "immediate-abort"` does on nightly. Native builds (tests) use `std`.

#![cfg_attr(target_arch = "wasm32", no_std)]

extern crate alloc;

pub mod core;

#[cfg(target_arch = "wasm32")]
mod wasm;
