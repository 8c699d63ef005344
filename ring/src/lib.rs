//! # sairing-ring
//!
//! A persistent, lock-free, single-producer / single-consumer ring of
//! variable-length records in a memory-mapped file that outlives both processes.
//!
//! - [`create`] makes a ring file; [`Producer::open`] and [`Consumer::open`]
//!   attach to it, each taking its role's OS lock (a second holder gets
//!   [`Error::RoleHeld`] naming the holder's pid).
//! - The producer [`reserve`](Producer::reserve)s a slice, fills it and
//!   [`commit`](Reservation::commit)s; the consumer [`read`](Consumer::read)s
//!   records, copied into its private memory before anything looks at them
//!   (or a [`batch`](Consumer::read_batch)), and
//!   [`release`](Consumer::release)s them with one store.
//! - Either side may die at any instruction and reattach: the producer continues
//!   after the last committed record, the consumer at its last released one.
//! - Everything read from the file is validated; a bad file is an [`Error`]
//!   naming the file and the problem, never a panic or a crash (a file truncated
//!   while mapped included, see the `sigbus` module).
//! - Nothing here waits: full and empty are answers. The sleep/wake handshake
//!   ([`Consumer::sleep_prepare`], [`Producer::take_consumer_wakeup`] and their
//!   mirror images for space) is here because its flags live in the file; the
//!   doorbells that use it belong to `sairing-transport`.
//!
//! The file format is documented byte by byte in `layout` and `docs/FORMAT.md`.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use sairing_ring::{create, Consumer, CreateOptions, OpenOptions, Producer};
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("ring");
//! create(&path, &CreateOptions::with_capacity(1 << 16))?;
//! let mut tx = Producer::open(&path, &OpenOptions::default())?;
//! let mut rx = Consumer::open(&path, &OpenOptions::default())?;
//! let mut slot = tx.reserve(5, 1)?;
//! slot.copy_from_slice(b"hello");
//! let seq = slot.commit();
//! let rec = rx.read()?.expect("one record");
//! assert_eq!((rec.seq(), rec.payload()), (seq, &b"hello"[..]));
//! rx.release();
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
// Under loom only the heap ring exists; the file-only parts are unused there.
#![cfg_attr(
    loom,
    allow(dead_code, unused_imports, unused_variables, irrefutable_let_patterns)
)]

mod error;
pub mod layout;
mod mem;
mod ring;
mod sync;

#[cfg(not(loom))]
mod file;
#[cfg(not(loom))]
mod observe;
#[cfg(not(loom))]
mod sigbus;

pub use error::{Corruption, Error, PushError, Result, Role};
pub use ring::{Batch, Consumer, HeapRing, Mark, Producer, Record, Reservation};

#[cfg(not(loom))]
pub use file::{create, remove, roles_alive, validate_header, CreateOptions, OpenOptions};
#[cfg(not(loom))]
pub use observe::{Cursors, Look, Observed, Observer};
