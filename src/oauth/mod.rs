//! The pure-Rust core: no JS types, unit-tested natively with `cargo test`. The wasm edge
//! (`src/edge`) drives it: this is the "endpoint request / endpoint response" half of the client —
//! what to send, what an answer or a failure means, whether to try again, what may be shown.
//!
//! - `request`: the grants, the form body of a token request, the argument and header rules;
//! - `form`, `url`, `scope`: percent-encoding, the consent URL, Avito's scope names;
//! - `wire`, `classify`: a response body as read, and what it means (a [`classify::Token`] or a
//!   failure);
//! - `rejection`: what a rejected fetch means (the caller's abort, our timeout, a network error);
//! - `failure`: [`failure::Failure`], one variant per `ApiException.kind`, its message;
//! - `redact`: what may be shown of a server's text;
//! - `retry`: whether and when to try again;
//! - `renewal`: the token renewal protocol a `TokenManager` performs, as a state machine;
//! - `renew_due`: renewal ahead of time (`accounts.renewDue`): who is due, the spread, results;
//! - `health`: what a renewal's write records of its outcome in the stored set, and an account's
//!   state (`tm.status()`);
//! - `callback`: what an authorization callback says;
//! - `seal`: the record a sealed store writes, and what a record read back means;
//! - `base64`: RFC 4648 base64, strict;
//! - `text`: string building without `format!` (wasm size).

pub mod backoff;
pub mod base64;
pub mod callback;
pub mod classify;
pub mod failure;
pub mod form;
pub mod health;
pub mod mutants;
pub mod operations;
pub mod overwrite;
pub mod persist;
pub mod redact;
pub mod refusal;
pub mod rejection;
pub mod renew_due;
pub mod renewal;
pub mod request;
pub mod retry;
pub mod scope;
pub mod seal;
pub mod text;
pub mod url;
pub mod wire;
