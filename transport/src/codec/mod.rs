//! The SAI message codec: requests, responses and notifications as they travel
//! in ring records. `docs/PROTOCOL.md` has the byte layout; in short:
//!
//! ```text
//! header (24 bytes, zerocopy `WireHeader`):
//!   0  version u8 = 1      1  op u8        2  flags u16
//!   4  epoch u32           8  seq u64      16 count u32     20 body_len u32
//! body (body_len bytes): length-prefixed strings, `str = len u32 ++ UTF-8 bytes`
//!   request, non-bulk:  str key, count x (str name, str value)
//!   request, bulk:      str object_type, count x (str object_id, u32 n, n x (str name, str value))
//!   response:           str status, count x (str name, str value), u32 m, m x str status
//!   notification:       str name, str payload (JSON)
//! ```
//!
//! Decoding validates every length, string and count before returning anything,
//! and borrows the strings from the record, which the ring has already copied
//! out of shared memory (a string checked as UTF-8 stays so). A malformed record
//! is a [`DecodeError`] that says what and where, never a panic.

use zerocopy::byteorder::little_endian::{U16, U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

/// Ring record kind of a request.
pub const KIND_REQUEST: u16 = 1;
/// Ring record kind of a response.
pub const KIND_RESPONSE: u16 = 2;
/// Ring record kind of a notification.
pub const KIND_NOTIFICATION: u16 = 3;
/// The codec's version byte.
pub const WIRE_VERSION: u8 = 1;
/// Size of [`WireHeader`].
pub const MESSAGE_HEADER_LEN: usize = 24;

/// The status of a request that succeeded (SAI's `SAI_STATUS_SUCCESS`).
pub const STATUS_SUCCESS: &str = "SAI_STATUS_SUCCESS";
/// The status of a request that failed for no more precise reason.
pub const STATUS_FAILURE: &str = "SAI_STATUS_FAILURE";

/// The fixed header of every message.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct WireHeader {
    /// [`WIRE_VERSION`].
    pub version: u8,
    /// The [`Op`] (of the request, or of the request a response answers).
    pub op: u8,
    /// Reserved, zero.
    pub flags: U16,
    /// The client incarnation that sent the request (echoed in its response).
    pub epoch: U32,
    /// The request's sequence number (echoed in its response).
    pub seq: U64,
    /// Attributes (non-bulk request, response) or objects (bulk request).
    pub count: U32,
    /// Bytes after the header.
    pub body_len: U32,
}

const _: () = assert!(std::mem::size_of::<WireHeader>() == MESSAGE_HEADER_LEN);

/// A SAI operation, as sonic-sairedis names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Op {
    /// create
    Create = 1,
    /// remove
    Remove = 2,
    /// set
    Set = 3,
    /// get
    Get = 4,
    /// bulkcreate
    BulkCreate = 5,
    /// bulkremove
    BulkRemove = 6,
    /// bulkset
    BulkSet = 7,
    /// bulkget
    BulkGet = 8,
    /// notify (INIT_VIEW, APPLY_VIEW, ...), the key names the notification
    Notify = 9,
    /// flush
    Flush = 10,
    /// an unsolicited notification from syncd (port_state_change, fdb_event, ...)
    Notification = 11,
}

impl Op {
    /// Decodes an op byte.
    pub fn from_u8(b: u8) -> Option<Op> {
        use Op::*;
        Some(match b {
            1 => Create,
            2 => Remove,
            3 => Set,
            4 => Get,
            5 => BulkCreate,
            6 => BulkRemove,
            7 => BulkSet,
            8 => BulkGet,
            9 => Notify,
            10 => Flush,
            11 => Notification,
            _ => return None,
        })
    }

    /// Whether the request carries objects rather than attributes.
    pub fn is_bulk(self) -> bool {
        matches!(
            self,
            Op::BulkCreate | Op::BulkRemove | Op::BulkSet | Op::BulkGet
        )
    }

    /// The name sonic-sairedis uses for it.
    pub fn name(self) -> &'static str {
        use Op::*;
        match self {
            Create => "create",
            Remove => "remove",
            Set => "set",
            Get => "get",
            BulkCreate => "bulkcreate",
            BulkRemove => "bulkremove",
            BulkSet => "bulkset",
            BulkGet => "bulkget",
            Notify => "notify",
            Flush => "flush",
            Notification => "notification",
        }
    }
}

/// What is wrong with a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed message in record {record_seq}: {what} at byte {offset}")]
pub struct DecodeError {
    /// The ring record's sequence number.
    pub record_seq: u64,
    /// The problem.
    pub what: &'static str,
    /// Where in the record.
    pub offset: usize,
}

/// A string to encode. Rust's strings are UTF-8 by their type and are copied
/// as they are ([`Text::CHECKED`]); text whose type promises nothing (a C
/// caller's bytes, and any other implementation, by default) is checked as the
/// encoder copies it ([`NotText`] when it is not UTF-8), so that the check
/// costs no pass of its own over the bytes.
pub trait Text {
    /// Whether the type already guarantees UTF-8 (when it does not, the
    /// encoder checks the bytes as it copies them).
    const CHECKED: bool = false;
    /// The bytes.
    fn text_bytes(&self) -> &[u8];
    /// How many bytes, found without reading them (a caller's length may be
    /// refused as too large before its bytes are ever looked at).
    #[inline(always)]
    fn text_len(&self) -> usize {
        self.text_bytes().len()
    }
}

impl<T: AsRef<str> + ?Sized> Text for T {
    const CHECKED: bool = true;
    #[inline(always)]
    fn text_bytes(&self) -> &[u8] {
        self.as_ref().as_bytes()
    }
}

/// One attribute to encode: a name and a value. A pair of strings is one; so
/// can be a caller's own record of two strings (the C API's `sairing_attr`),
/// encoded where it lies.
pub trait Attr {
    /// The strings' type.
    type Text: Text + ?Sized;
    /// The attribute's name.
    fn name(&self) -> &Self::Text;
    /// Its value.
    fn value(&self) -> &Self::Text;
}

impl<A: AsRef<str>> Attr for (A, A) {
    type Text = str;
    #[inline(always)]
    fn name(&self) -> &str {
        self.0.as_ref()
    }
    #[inline(always)]
    fn value(&self) -> &str {
        self.1.as_ref()
    }
}

/// A string an encoder was handed that is not UTF-8: which one, and why.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{what} is not UTF-8: {error}")]
pub struct NotText {
    /// The key, an attribute name, ...
    pub what: &'static str,
    /// Where the bytes stop being UTF-8.
    pub error: std::str::Utf8Error,
}

/// One object of a bulk request, for encoding: its id is a string of the
/// same type as its attributes' names and values.
#[derive(Clone, Copy)]
pub struct BulkObject<'a, P: Attr> {
    /// The object id (an OID or an entry's JSON).
    pub id: &'a P::Text,
    /// Its attributes.
    pub attrs: &'a [P],
}

/// The body of a request, for encoding: attributes `P` (usually pairs of
/// strings).
#[derive(Clone, Copy)]
pub enum Body<'a, P: Attr> {
    /// Attributes of a non-bulk request.
    Attrs(&'a [P]),
    /// Objects of a bulk request.
    Bulk(&'a [BulkObject<'a, P>]),
}

impl<P: Attr + std::fmt::Debug> std::fmt::Debug for BulkObject<'_, P>
where
    P::Text: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkObject")
            .field("id", &self.id)
            .field("attrs", &self.attrs)
            .finish()
    }
}

impl<P: Attr + std::fmt::Debug> std::fmt::Debug for Body<'_, P>
where
    P::Text: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Attrs(a) => f.debug_tuple("Attrs").field(a).finish(),
            Body::Bulk(o) => f.debug_tuple("Bulk").field(o).finish(),
        }
    }
}

impl Body<'static, (&'static str, &'static str)> {
    /// No attributes (a remove, a flush, a notify).
    pub const EMPTY: Self = Body::Attrs(&[]);
}

/// `bytes` as text, if they are UTF-8. SAI's strings are ASCII: that is
/// checked first, a word at a time with no branch but the loop's, and only
/// other text goes through the full UTF-8 check (which, with `is_ascii`'s
/// word-at-a-time early exits, cost a third of a C client's batch).
#[inline]
pub fn text(bytes: &[u8]) -> Result<&str, std::str::Utf8Error> {
    if ascii(bytes) {
        // SAFETY: ASCII is UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(bytes) });
    }
    std::str::from_utf8(bytes)
}

/// Whether every byte is below 0x80.
#[inline]
fn ascii(bytes: &[u8]) -> bool {
    or_bytes(bytes) & HIGH_BITS == 0
}

/// Each byte's high bit, eight to a word.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Every byte of `bytes` OR-ed together into a word: the bytes are ASCII
/// exactly when `or_bytes(b) & HIGH_BITS` is zero. Sixteen bytes at a time
/// (one SSE2 OR) with no branch but the loop's, the last, partial chunk read
/// overlapping the one before it; shorter strings in two overlapping words.
#[inline]
fn or_bytes(bytes: &[u8]) -> u64 {
    let n = bytes.len();
    let at = |i: usize, w: usize| -> u128 {
        let mut b = [0u8; 16];
        b[..w].copy_from_slice(&bytes[i..i + w]);
        u128::from_ne_bytes(b)
    };
    let acc = if n >= 16 {
        let mut acc = at(n - 16, 16);
        for c in bytes.chunks_exact(16) {
            acc |= u128::from_ne_bytes(c.try_into().expect("16 bytes"));
        }
        acc
    } else if n >= 8 {
        at(0, 8) | at(n - 8, 8)
    } else if n >= 4 {
        at(0, 4) | at(n - 4, 4)
    } else {
        u128::from(bytes.iter().fold(0u8, |a, &b| a | b))
    };
    acc as u64 | (acc >> 64) as u64
}

mod decode;
mod encode;
#[cfg(test)]
mod tests;

pub use decode::{
    decode_notification, decode_request, decode_response, Attrs, NotificationView, Objects,
    Request, ResponseView,
};
pub use encode::{
    encode_notification, encode_request, encode_response, notification_len, request_len,
    response_len,
};
