//! # sairing-syncd
//!
//! syncd's side of sairing: a virtual switch ([`vs`]) that applies SAI requests
//! from a channel with SAI's status semantics, a background mirror ([`mirror`])
//! that keeps Redis in SONiC's ASIC_DB schema ([`asic_db`]), and the main loop ([`daemon`])
//! that makes a `kill -9` at any moment recoverable with exactly-once effects
//! (`docs/WARMBOOT.md`).
#![deny(missing_docs)]

pub mod asic_db;
pub mod changed;
pub mod daemon;
pub mod mirror;
pub mod profile;
pub mod rebuild;
pub mod recorder;
pub mod snapshot;
pub mod store;
pub mod text;
pub mod vs;
