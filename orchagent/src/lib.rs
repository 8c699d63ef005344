//! # sairing-orchagent
//!
//! The producer side of sairing: replays `sairedis.rec` recordings ([`rec`]) and
//! runs a deterministic route workload ([`workload`]) through a channel client in
//! sync, async or pipelined mode ([`drive`]), checking every status and
//! measuring every request's latency. [`recgen`] writes the project's own
//! recordings; [`fold`] is the state a recording implies, written independently
//! of syncd, that replays are checked against.
#![deny(missing_docs)]

pub mod drive;
pub mod fold;
pub mod ids;
pub mod recgen;
pub mod replay;
pub mod workload;
