//! # sairing-transport
//!
//! A channel between orchagent (the [`Client`]) and syncd (the [`Server`]):
//! a request ring and a response ring (`sairing-ring` files that outlive both
//! processes), a rendezvous Unix socket that checks who connects and carries
//! each side's doorbell (and tells each side when the other dies), and the SAI
//! codec.
//!
//! - A busy channel makes no system calls: each side spins for a while before
//!   sleeping, and the other rings only a side that announced it sleeps.
//! - Either side can die and restart; requests sent while the server is down
//!   wait in the ring (up to its capacity, then the client blocks or gets
//!   [`Error::Full`]), and responses to a dead client's requests are discarded by
//!   its successor.
//! - `docs/PROTOCOL.md` describes the directory, the handshake, the codec's bytes
//!   and the sleep/wake protocol.
//!
//! ```no_run
//! # fn main() -> Result<(), sairing_transport::Error> {
//! use sairing_transport::{channel, Client, ClientOptions, Server, ServerOptions};
//! let dir = channel::default_dir("demo");
//! channel::create(&dir, &Default::default())?;
//! let mut server = Server::open(&dir, &ServerOptions::default())?;   // in syncd
//! let mut client = Client::open(&dir, &ClientOptions::default())?;   // in orchagent
//! let seq = client.send(sairing_transport::Op::Create, "SAI_OBJECT_TYPE_VLAN:oid:0x26000000000001",
//!     &sairing_transport::Body::Attrs(&[("SAI_VLAN_ATTR_VLAN_ID", "100")]))?;
//! if let Some(mut req) = server.recv(None)? {
//!     req.respond_status("SAI_STATUS_SUCCESS")?;
//! }
//! assert!(client.wait_for(seq, None)?.is_success());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod bell;
mod calls;
pub mod channel;
mod client;
pub mod codec;
mod endpoint;
mod error;
mod rendezvous;
mod server;

pub use client::{Client, ClientOptions, Mode, Notification, Outcome, Response};
pub use codec::{Attr, Body, BulkObject, NotText, Op, Request, Text};
pub use endpoint::{WaitPolicy, WaitStats};
pub use error::{Error, Result};
pub use rendezvous::AccessPolicy;
pub use server::{ConnectionStats, Incoming, Server, ServerOptions, Ticket};
