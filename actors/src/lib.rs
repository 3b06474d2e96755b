//! # actors — Hermes's message types, actor runtime and actors
//!
//! Owns the typed messages exchanged by actors, the two hosts (live and deterministic replay)
//! and one module per actor. It must not do IO itself: market data, venues and sinks come in
//! through port traits that the `hermes` binary wires to real adapters.
//!
//! Issue 2 starts this crate with its one seam every actor needs first: the [`clock`]. The
//! pipeline itself arrives with issue 3.

pub mod clock;

pub use clock::{Clock, ManualClock, UnixNanos};
