//! Encoding: the exact length of each message, then the message written into
//! a buffer of that length (a ring reservation: zero-copy).

use zerocopy::byteorder::little_endian::{U16, U32, U64};
use zerocopy::IntoBytes;

use super::*;

fn str_len(s: &str) -> usize {
    4 + s.len()
}

fn pairs_len<A: AsRef<str>>(attrs: &[(A, A)]) -> usize {
    attrs
        .iter()
        .map(|(n, v)| str_len(n.as_ref()) + str_len(v.as_ref()))
        .sum()
}

/// Bytes a request needs.
pub fn request_len<A: AsRef<str>>(key: &str, body: &Body<'_, A>) -> usize {
    MESSAGE_HEADER_LEN
        + str_len(key)
        + match body {
            Body::Attrs(a) => pairs_len(a),
            Body::Bulk(objs) => objs
                .iter()
                .map(|o| str_len(o.id) + 4 + pairs_len(o.attrs))
                .sum(),
        }
}

/// Bytes a response needs.
pub fn response_len<A: AsRef<str>, S: AsRef<str>>(
    status: &str,
    attrs: &[(A, A)],
    statuses: &[S],
) -> usize {
    MESSAGE_HEADER_LEN
        + str_len(status)
        + pairs_len(attrs)
        + 4
        + statuses.iter().map(|s| str_len(s.as_ref())).sum::<usize>()
}

/// Bytes a notification needs.
pub fn notification_len(name: &str, payload: &str) -> usize {
    MESSAGE_HEADER_LEN + str_len(name) + str_len(payload)
}

struct Writer<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.at..self.at + b.len()].copy_from_slice(b);
        self.at += b.len();
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    fn str(&mut self, s: &str) {
        self.u32(s.len() as u32);
        self.bytes(s.as_bytes());
    }
    fn pairs<A: AsRef<str>>(&mut self, attrs: &[(A, A)]) {
        for (n, v) in attrs {
            self.str(n.as_ref());
            self.str(v.as_ref());
        }
    }
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
pub fn encode_request<A: AsRef<str>>(
    buf: &mut [u8],
    op: Op,
    epoch: u32,
    seq: u64,
    key: &str,
    body: &Body<'_, A>,
) {
    let total = buf.len();
    let mut w = Writer { buf, at: 0 };
    match body {
        Body::Attrs(a) => {
            w.header(op, epoch, seq, a.len(), total);
            w.str(key);
            w.pairs(a);
        }
        Body::Bulk(objs) => {
            w.header(op, epoch, seq, objs.len(), total);
            w.str(key);
            for o in objs.iter() {
                w.str(o.id);
                w.u32(o.attrs.len() as u32);
                w.pairs(o.attrs);
            }
        }
    }
    debug_assert_eq!(w.at, total);
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
    let mut w = Writer { buf, at: 0 };
    w.header(op, epoch, seq, attrs.len(), total);
    w.str(status);
    w.pairs(attrs);
    w.u32(statuses.len() as u32);
    for s in statuses {
        w.str(s.as_ref());
    }
    debug_assert_eq!(w.at, total);
}

/// Encodes a notification into `buf`, which must be exactly [`notification_len`] bytes.
pub fn encode_notification(buf: &mut [u8], name: &str, payload: &str) {
    let total = buf.len();
    let mut w = Writer { buf, at: 0 };
    w.header(Op::Notification, 0, 0, 0, total);
    w.str(name);
    w.str(payload);
}
