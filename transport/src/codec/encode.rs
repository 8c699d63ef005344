//! Encoding: the exact length of each message, then the message written into
//! a buffer of that length (a ring reservation: zero-copy).

use zerocopy::byteorder::little_endian::{U16, U32, U64};
use zerocopy::IntoBytes;

use super::*;

// The lengths saturate: a caller's strings (the C API's) may claim lengths
// whose sum overflows, and `usize::MAX` is then refused as too large by the
// ring, before a byte is read.

fn text_len<T: Text + ?Sized>(t: &T) -> usize {
    t.text_len().saturating_add(4)
}

fn attrs_len<P: Attr>(attrs: &[P]) -> usize {
    attrs.iter().fold(0, |n: usize, a| {
        n.saturating_add(text_len(a.name()))
            .saturating_add(text_len(a.value()))
    })
}

/// Bytes a request needs (`usize::MAX` when that does not fit a `usize`).
pub fn request_len<K: Text + ?Sized, P: Attr>(key: &K, body: &Body<'_, P>) -> usize {
    let body = match body {
        Body::Attrs(a) => attrs_len(a),
        Body::Bulk(objs) => objs.iter().fold(0, |n: usize, o| {
            n.saturating_add(text_len(o.id))
                .saturating_add(4)
                .saturating_add(attrs_len(o.attrs))
        }),
    };
    text_len(key)
        .saturating_add(MESSAGE_HEADER_LEN)
        .saturating_add(body)
}

/// Bytes a response needs.
pub fn response_len<A: AsRef<str>, S: AsRef<str>>(
    status: &str,
    attrs: &[(A, A)],
    statuses: &[S],
) -> usize {
    MESSAGE_HEADER_LEN
        + text_len(status)
        + attrs_len(attrs)
        + 4
        + statuses.iter().map(|s| text_len(s)).sum::<usize>()
}

/// Bytes a notification needs.
pub fn notification_len(name: &str, payload: &str) -> usize {
    MESSAGE_HEADER_LEN + text_len(name) + text_len(payload)
}

struct Writer<'b> {
    buf: &'b mut [u8],
    at: usize,
    /// The bytes of every string not checked yet, OR-ed together
    /// ([`or_bytes`]): when no high bit is set, they were all ASCII.
    unchecked: u64,
}

impl<'b> Writer<'b> {
    #[inline(always)]
    fn new(buf: &'b mut [u8]) -> Self {
        Writer {
            buf,
            at: 0,
            unchecked: 0,
        }
    }
    #[inline(always)]
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.at..self.at + b.len()].copy_from_slice(b);
        self.at += b.len();
    }
    #[inline(always)]
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    /// Writes `t`; when its type does not promise UTF-8, folds its bytes
    /// (hot in the cache after the copy) into `unchecked`.
    #[inline(always)]
    fn text<T: Text + ?Sized>(&mut self, t: &T) {
        let b = t.text_bytes();
        self.u32(b.len() as u32);
        self.bytes(b);
        if !T::CHECKED {
            self.unchecked |= or_bytes(b);
        }
    }
    #[inline(always)]
    fn attrs<P: Attr>(&mut self, attrs: &[P]) {
        for a in attrs {
            self.text(a.name());
            self.text(a.value());
        }
    }
    #[inline(always)]
    fn header(&mut self, op: Op, epoch: u32, seq: u64, count: usize, total: usize) {
        let h = WireHeader {
            version: WIRE_VERSION,
            op: op as u8,
            flags: U16::new(0),
            epoch: U32::new(epoch),
            seq: U64::new(seq),
            count: U32::new(count as u32),
            body_len: U32::new((total - MESSAGE_HEADER_LEN) as u32),
        };
        self.bytes(h.as_bytes());
    }
}

/// Encodes a request into `buf`, which must be exactly [`request_len`] bytes.
/// Strings whose type does not promise UTF-8 (a C caller's, in the C API)
/// are checked as they are copied: when one is not UTF-8, the result is
/// [`NotText`] and `buf` holds a message that must not be sent.
pub fn encode_request<K: Text + ?Sized, P: Attr>(
    buf: &mut [u8],
    op: Op,
    epoch: u32,
    seq: u64,
    key: &K,
    body: &Body<'_, P>,
) -> Result<(), NotText> {
    let total = buf.len();
    let mut w = Writer::new(buf);
    match body {
        Body::Attrs(a) => {
            w.header(op, epoch, seq, a.len(), total);
            w.text(key);
            w.attrs(a);
        }
        Body::Bulk(objs) => {
            w.header(op, epoch, seq, objs.len(), total);
            w.text(key);
            for o in objs.iter() {
                w.text(o.id);
                w.u32(o.attrs.len() as u32);
                w.attrs(o.attrs);
            }
        }
    }
    debug_assert_eq!(w.at, total);
    if w.unchecked & HIGH_BITS == 0 {
        return Ok(());
    }
    // Not all ASCII: the full check, string by string, names the culprit.
    check_request(key, body)
}

/// Checks that every string of a request whose type does not promise UTF-8
/// is UTF-8, naming the first that is not ([`encode_request`]'s slow path).
fn check_request<K: Text + ?Sized, P: Attr>(key: &K, body: &Body<'_, P>) -> Result<(), NotText> {
    fn check<T: Text + ?Sized>(t: &T, what: &'static str) -> Result<(), NotText> {
        if T::CHECKED {
            return Ok(());
        }
        std::str::from_utf8(t.text_bytes())
            .map(drop)
            .map_err(|error| NotText { what, error })
    }
    fn attrs<P: Attr>(list: &[P]) -> Result<(), NotText> {
        list.iter().try_for_each(|a| {
            check(a.name(), "an attribute name")?;
            check(a.value(), "an attribute value")
        })
    }
    check(key, "the key")?;
    match body {
        Body::Attrs(a) => attrs(a),
        Body::Bulk(objs) => objs.iter().try_for_each(|o| {
            check(o.id, "an object id")?;
            attrs(o.attrs)
        }),
    }
}

/// Encodes a response into `buf`, which must be exactly [`response_len`] bytes.
#[allow(clippy::too_many_arguments)]
pub fn encode_response<A: AsRef<str>, S: AsRef<str>>(
    buf: &mut [u8],
    op: Op,
    epoch: u32,
    seq: u64,
    status: &str,
    attrs: &[(A, A)],
    statuses: &[S],
) {
    let total = buf.len();
    let mut w = Writer::new(buf);
    w.header(op, epoch, seq, attrs.len(), total);
    w.text(status);
    w.attrs(attrs);
    w.u32(statuses.len() as u32);
    for s in statuses {
        w.text(s);
    }
    debug_assert_eq!(w.at, total);
}

/// Encodes a notification into `buf`, which must be exactly [`notification_len`] bytes.
pub fn encode_notification(buf: &mut [u8], name: &str, payload: &str) {
    let total = buf.len();
    let mut w = Writer::new(buf);
    w.header(Op::Notification, 0, 0, 0, total);
    w.text(name);
    w.text(payload);
}
