//! The transport's errors: each says which channel and what went wrong.

use std::path::PathBuf;
use std::time::Duration;

/// An error of the transport layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A ring operation failed (corrupt file, role held, ...).
    #[error(transparent)]
    Ring(#[from] sairing_ring::Error),
    /// A record did not decode.
    #[error(transparent)]
    Decode(#[from] crate::codec::DecodeError),
    /// A request handed to the client had a string that is not UTF-8 (only
    /// text whose type does not promise it is checked: a C caller's); it was
    /// not sent.
    #[error(transparent)]
    NotText(#[from] crate::codec::NotText),
    /// An operating-system call failed.
    #[error("{}: {what}: {source}", path.display())]
    Io {
        /// The channel path involved.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The server refused this client.
    #[error("{}: the server refused the connection: {reason}", path.display())]
    Refused {
        /// The channel.
        path: PathBuf,
        /// Why, as far as the client can tell.
        reason: String,
    },
    /// The peer spoke something other than the handshake.
    #[error("{}: handshake failed: {what}", path.display())]
    Handshake {
        /// The channel.
        path: PathBuf,
        /// What was wrong.
        what: String,
    },
    /// The ring stayed full for the whole timeout (or the call was non-blocking).
    #[error("{}: ring full ({needed} bytes needed, {free} free){}", path.display(), match waited { Some(d) => format!(" after waiting {d:?}"), None => String::new() })]
    Full {
        /// The ring.
        path: PathBuf,
        /// Bytes needed.
        needed: usize,
        /// Bytes free.
        free: usize,
        /// How long it waited, if it did.
        waited: Option<Duration>,
    },
    /// A message larger than the ring accepts.
    #[error("{}: message of {len} bytes exceeds the ring's maximum of {max}", path.display())]
    TooLarge {
        /// The ring.
        path: PathBuf,
        /// The message's size.
        len: usize,
        /// The maximum.
        max: usize,
    },
    /// No answer within the timeout.
    #[error("{}: no {what} within {after:?}", path.display())]
    Timeout {
        /// The channel.
        path: PathBuf,
        /// What was awaited.
        what: &'static str,
        /// The timeout.
        after: Duration,
    },
    /// A path the channel must not use: a symlink, another user's directory,
    /// one others may write to without the sticky bit, a socket that was
    /// replaced.
    #[error("{}: {what}", path.display())]
    Unsafe {
        /// The path.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// `create` found a channel already there.
    #[error("{}: a channel already exists here", path.display())]
    Exists {
        /// The channel directory.
        path: PathBuf,
    },
    /// `remove` found a ring still attached.
    #[error("{}: in use ({holder}); stop its client and server first", path.display())]
    InUse {
        /// The channel directory.
        path: PathBuf,
        /// Which ring, which role, which pid.
        holder: sairing_ring::Error,
    },
    /// A record of a kind this side never reads (the peer, or something
    /// writing the file, is not speaking this protocol).
    #[error("{}: record {seq} has kind {kind}, expected {expected}", path.display())]
    WrongKind {
        /// The ring.
        path: PathBuf,
        /// Its sequence number.
        seq: u64,
        /// The kind found.
        kind: u16,
        /// What was expected.
        expected: &'static str,
    },
}

/// The transport's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

pub(crate) fn io<'a>(
    path: &'a std::path::Path,
    what: &'static str,
) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        path: path.to_owned(),
        what,
        source,
    }
}

pub(crate) fn push_error(
    path: &std::path::Path,
    e: sairing_ring::PushError,
    waited: Option<Duration>,
) -> Error {
    match e {
        sairing_ring::PushError::Full { needed, free } => Error::Full {
            path: path.to_owned(),
            needed,
            free,
            waited,
        },
        sairing_ring::PushError::TooLarge { len, max } => Error::TooLarge {
            path: path.to_owned(),
            len,
            max,
        },
        // The transport only pushes its own kinds (1..=3).
        sairing_ring::PushError::BadKind(k) => unreachable!("the transport pushed kind {k}"),
        sairing_ring::PushError::Ring(e) => Error::Ring(e),
    }
}
