//! # sairing-testkit
//!
//! What the tests, the benchmarks and the demo need to run the real stack, kept
//! out of the crates they exercise: a private `redis-server` per test
//! ([`PrivateRedis`]), the workspace's binaries located and built
//! ([`workspace_binary`]), syncd as a child process ([`SyncdProcess`]), and a repeatable random
//! sequence ([`XorShift`]).
//! It depends on no sairing crate, so every crate can use it in its tests.
#![deny(missing_docs)]

mod process;
mod redis;
mod rng;

pub use process::{binary_or_die, chanpeer, workspace_binary, SyncdProcess};
pub use redis::{PrivateRedis, StartError};
pub use rng::XorShift;
