//! sairing benchmarks: see benches/ and src/bin/.
#![deny(missing_docs)]
