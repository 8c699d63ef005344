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

/// One object of a bulk request, for encoding.
#[derive(Debug, Clone, Copy)]
pub struct BulkObject<'a, A: AsRef<str>> {
    /// The object id (an OID or an entry's JSON).
    pub id: &'a str,
    /// Its attributes.
    pub attrs: &'a [(A, A)],
}

/// The body of a request, for encoding.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a, A: AsRef<str>> {
    /// Attributes of a non-bulk request.
    Attrs(&'a [(A, A)]),
    /// Objects of a bulk request.
    Bulk(&'a [BulkObject<'a, A>]),
}

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

/// A bounds-checked reader over a message body.
#[derive(Clone)]
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    #[inline]
    fn u32(&mut self) -> Result<u32, (&'static str, usize)> {
        let end = self.at.checked_add(4).filter(|&e| e <= self.b.len());
        let Some(end) = end else {
            return Err(("length runs past the end", self.base + self.at));
        };
        let v = u32::from_le_bytes([
            self.b[self.at],
            self.b[self.at + 1],
            self.b[self.at + 2],
            self.b[self.at + 3],
        ]);
        self.at = end;
        Ok(v)
    }

    #[inline]
    fn str(&mut self) -> Result<&'a str, (&'static str, usize)> {
        let len = self.u32()? as usize;
        let start = self.at;
        let Some(end) = start.checked_add(len).filter(|&e| e <= self.b.len()) else {
            return Err(("string runs past the end", self.base + start - 4));
        };
        let s = std::str::from_utf8(&self.b[start..end])
            .map_err(|_| ("string is not UTF-8", self.base + start))?;
        self.at = end;
        Ok(s)
    }

    #[inline]
    fn pairs(&mut self, count: u32) -> Result<Attrs<'a>, (&'static str, usize)> {
        let start = self.at;
        for _ in 0..count {
            self.str()?;
            self.str()?;
        }
        Ok(Attrs {
            r: Reader {
                b: &self.b[start..self.at],
                at: 0,
                base: self.base + start,
            },
            count,
        })
    }
}

/// Attribute pairs borrowed from a message. Iterating yields `(name, value)`.
#[derive(Clone)]
pub struct Attrs<'a> {
    r: Reader<'a>,
    count: u32,
}

impl<'a> Attrs<'a> {
    /// No attributes.
    pub fn empty() -> Attrs<'static> {
        Attrs {
            r: Reader {
                b: &[],
                at: 0,
                base: 0,
            },
            count: 0,
        }
    }

    /// How many pairs.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Copies the pairs out.
    pub fn to_vec(&self) -> Vec<(String, String)> {
        self.clone()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = (&'a str, &'a str);
    fn next(&mut self) -> Option<(&'a str, &'a str)> {
        if self.count == 0 {
            return None;
        }
        // Validated when decoded; checked again because the bytes are shared
        // memory that a faulty peer could change. A change ends the iteration.
        let n = self.r.str().ok()?;
        let v = self.r.str().ok()?;
        self.count -= 1;
        Some((n, v))
    }
}

impl std::fmt::Debug for Attrs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// The objects of a bulk request, borrowed. Iterating yields `(object_id, attrs)`.
#[derive(Clone)]
pub struct Objects<'a> {
    r: Reader<'a>,
    count: u32,
}

impl<'a> Objects<'a> {
    /// How many objects.
    pub fn len(&self) -> usize {
        self.count as usize
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

impl<'a> Iterator for Objects<'a> {
    type Item = (&'a str, Attrs<'a>);
    fn next(&mut self) -> Option<(&'a str, Attrs<'a>)> {
        if self.count == 0 {
            return None;
        }
        let id = self.r.str().ok()?;
        let n = self.r.u32().ok()?;
        let attrs = self.r.pairs(n).ok()?;
        self.count -= 1;
        Some((id, attrs))
    }
}

impl std::fmt::Debug for Objects<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

/// A request, decoded and borrowed from its record.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The operation.
    pub op: Op,
    /// The sending client's incarnation.
    pub epoch: u32,
    /// Its sequence number.
    pub seq: u64,
    /// `SAI_OBJECT_TYPE_<T>:<id>`, the object type of a bulk request, or the
    /// notify name (INIT_VIEW, ...).
    pub key: &'a str,
    /// Attributes (non-bulk).
    pub attrs: Attrs<'a>,
    /// Objects (bulk).
    pub objects: Objects<'a>,
}

/// A response, decoded and borrowed from its record.
#[derive(Debug, Clone)]
pub struct ResponseView<'a> {
    /// The op of the request it answers.
    pub op: Op,
    /// The client incarnation that sent that request.
    pub epoch: u32,
    /// That request's sequence number.
    pub seq: u64,
    /// `SAI_STATUS_SUCCESS`, ...
    pub status: &'a str,
    /// Attributes (for a get).
    pub attrs: Attrs<'a>,
    /// One status per object (bulk).
    pub statuses: Vec<&'a str>,
}

/// A notification, decoded and borrowed from its record.
#[derive(Debug, Clone)]
pub struct NotificationView<'a> {
    /// `port_state_change`, `fdb_event`, ...
    pub name: &'a str,
    /// Its JSON payload.
    pub payload: &'a str,
}

#[inline]
fn header<'a>(payload: &'a [u8], record_seq: u64) -> Result<(WireHeader, Reader<'a>), DecodeError> {
    let err = |what, offset| DecodeError {
        record_seq,
        what,
        offset,
    };
    let Ok((h, rest)) = WireHeader::read_from_prefix(payload) else {
        return Err(err("shorter than the 24-byte header", 0));
    };
    if h.version != WIRE_VERSION {
        return Err(err("unknown codec version", 0));
    }
    if h.flags.get() != 0 {
        return Err(err("reserved flags are set", 2));
    }
    if h.body_len.get() as usize != rest.len() {
        return Err(err("body length disagrees with the record length", 20));
    }
    Ok((
        h,
        Reader {
            b: rest,
            at: 0,
            base: MESSAGE_HEADER_LEN,
        },
    ))
}

#[inline]
fn op_of(h: &WireHeader, record_seq: u64) -> Result<Op, DecodeError> {
    Op::from_u8(h.op).ok_or(DecodeError {
        record_seq,
        what: "unknown op",
        offset: 1,
    })
}

#[inline]
fn finish(r: &Reader<'_>, record_seq: u64) -> Result<(), DecodeError> {
    if r.at != r.b.len() {
        return Err(DecodeError {
            record_seq,
            what: "trailing bytes after the message",
            offset: r.base + r.at,
        });
    }
    Ok(())
}

/// Decodes a request record's payload; `record_seq` names it in errors.
#[inline]
pub fn decode_request(payload: &[u8], record_seq: u64) -> Result<Request<'_>, DecodeError> {
    let (h, mut r) = header(payload, record_seq)?;
    let op = op_of(&h, record_seq)?;
    let e = |(what, offset)| DecodeError {
        record_seq,
        what,
        offset,
    };
    if op == Op::Notification {
        return Err(e(("a notification is not a request", 1)));
    }
    let key = r.str().map_err(e)?;
    let count = h.count.get();
    let (attrs, objects) = if op.is_bulk() {
        let start = r.at;
        for _ in 0..count {
            r.str().map_err(e)?;
            let n = r.u32().map_err(e)?;
            r.pairs(n).map_err(e)?;
        }
        (
            Attrs::empty(),
            Objects {
                r: Reader {
                    b: &r.b[start..r.at],
                    at: 0,
                    base: r.base + start,
                },
                count,
            },
        )
    } else {
        (
            r.pairs(count).map_err(e)?,
            Objects {
                r: Reader {
                    b: &[],
                    at: 0,
                    base: 0,
                },
                count: 0,
            },
        )
    };
    finish(&r, record_seq)?;
    Ok(Request {
        op,
        epoch: h.epoch.get(),
        seq: h.seq.get(),
        key,
        attrs,
        objects,
    })
}

/// Decodes a response record's payload.
pub fn decode_response(payload: &[u8], record_seq: u64) -> Result<ResponseView<'_>, DecodeError> {
    let (h, mut r) = header(payload, record_seq)?;
    let op = op_of(&h, record_seq)?;
    let e = |(what, offset)| DecodeError {
        record_seq,
        what,
        offset,
    };
    let status = r.str().map_err(e)?;
    let attrs = r.pairs(h.count.get()).map_err(e)?;
    let m = r.u32().map_err(e)?;
    // Each status takes at least its 4-byte length: bound the allocation by
    // the bytes left, not by the record's size.
    if m as usize > (r.b.len() - r.at) / 4 {
        return Err(e((
            "more statuses than bytes to hold them",
            r.base + r.at - 4,
        )));
    }
    let mut statuses = Vec::with_capacity(m as usize);
    for _ in 0..m {
        statuses.push(r.str().map_err(e)?);
    }
    finish(&r, record_seq)?;
    Ok(ResponseView {
        op,
        epoch: h.epoch.get(),
        seq: h.seq.get(),
        status,
        attrs,
        statuses,
    })
}

/// Decodes a notification record's payload.
pub fn decode_notification(
    payload: &[u8],
    record_seq: u64,
) -> Result<NotificationView<'_>, DecodeError> {
    let (h, mut r) = header(payload, record_seq)?;
    if op_of(&h, record_seq)? != Op::Notification {
        return Err(DecodeError {
            record_seq,
            what: "not a notification",
            offset: 1,
        });
    }
    let e = |(what, offset)| DecodeError {
        record_seq,
        what,
        offset,
    };
    let name = r.str().map_err(e)?;
    let payload = r.str().map_err(e)?;
    finish(&r, record_seq)?;
    Ok(NotificationView { name, payload })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc_req(op: Op, key: &str, body: Body<'_, &str>) -> Vec<u8> {
        let mut b = vec![0; request_len(key, &body)];
        encode_request(&mut b, op, 7, 42, key, &body);
        b
    }

    #[test]
    fn request_round_trip() {
        let attrs = [
            ("SAI_PORT_ATTR_ADMIN_STATE", "true"),
            ("SAI_PORT_ATTR_MTU", "9100"),
        ];
        let b = enc_req(
            Op::Set,
            "SAI_OBJECT_TYPE_PORT:oid:0x1000000000002",
            Body::Attrs(&attrs),
        );
        let r = decode_request(&b, 1).unwrap();
        assert_eq!(
            (r.op, r.epoch, r.seq, r.key),
            (Op::Set, 7, 42, "SAI_OBJECT_TYPE_PORT:oid:0x1000000000002")
        );
        assert_eq!(r.attrs.clone().collect::<Vec<_>>(), attrs.to_vec());
        assert!(r.objects.is_empty());
    }

    #[test]
    fn bulk_round_trip() {
        let a1 = [(
            "SAI_ROUTE_ENTRY_ATTR_PACKET_ACTION",
            "SAI_PACKET_ACTION_FORWARD",
        )];
        let objs = [
            BulkObject {
                id: r#"{"dest":"10.0.0.0/24","switch_id":"oid:0x21000000000000","vr":"oid:0x3000000000022"}"#,
                attrs: &a1[..],
            },
            BulkObject {
                id: r#"{"dest":"10.0.1.0/24","switch_id":"oid:0x21000000000000","vr":"oid:0x3000000000022"}"#,
                attrs: &[][..],
            },
        ];
        let b = enc_req(
            Op::BulkCreate,
            "SAI_OBJECT_TYPE_ROUTE_ENTRY",
            Body::Bulk(&objs),
        );
        let r = decode_request(&b, 1).unwrap();
        let got: Vec<_> = r
            .objects
            .map(|(id, a)| (id, a.collect::<Vec<_>>()))
            .collect();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].0, objs[0].id);
        assert_eq!(got[0].1, a1.to_vec());
        assert!(got[1].1.is_empty());
    }

    #[test]
    fn response_and_notification_round_trip() {
        let attrs = [("SAI_SWITCH_ATTR_CPU_PORT", "oid:0x1000000000001")];
        let st = ["SAI_STATUS_SUCCESS", "SAI_STATUS_ITEM_ALREADY_EXISTS"];
        let mut b = vec![0; response_len("SAI_STATUS_SUCCESS", &attrs, &st)];
        encode_response(&mut b, Op::Get, 3, 99, "SAI_STATUS_SUCCESS", &attrs, &st);
        let r = decode_response(&b, 5).unwrap();
        assert_eq!(
            (r.op, r.epoch, r.seq, r.status),
            (Op::Get, 3, 99, "SAI_STATUS_SUCCESS")
        );
        assert_eq!(r.attrs.collect::<Vec<_>>(), attrs.to_vec());
        assert_eq!(r.statuses, st.to_vec());
        let json = r#"[{"port_id":"oid:0x1000000000002","port_state":"SAI_PORT_OPER_STATUS_UP"}]"#;
        let mut b = vec![0; notification_len("port_state_change", json)];
        encode_notification(&mut b, "port_state_change", json);
        let n = decode_notification(&b, 6).unwrap();
        assert_eq!((n.name, n.payload), ("port_state_change", json));
    }

    /// A status count is judged against the bytes left after it, not the
    /// record's size: a count that the record could never hold is refused before
    /// anything is allocated for it.
    #[test]
    fn a_status_count_beyond_the_bytes_left_is_refused_up_front() {
        let status = "S".repeat(100);
        let none: [(&str, &str); 0] = [];
        let statuses: [&str; 0] = [];
        let mut b = vec![0; response_len(&status, &none, &statuses)];
        encode_response(&mut b, Op::BulkSet, 1, 2, &status, &none, &statuses);
        let at = MESSAGE_HEADER_LEN + 4 + status.len();
        assert_eq!(b.len(), at + 4);
        let m = ((b.len() - MESSAGE_HEADER_LEN) / 4 - 1) as u32;
        b[at..at + 4].copy_from_slice(&m.to_le_bytes());
        let e = decode_response(&b, 5).unwrap_err();
        assert_eq!(e.what, "more statuses than bytes to hold them");
    }

    #[test]
    fn errors_name_the_record_and_place() {
        let b = enc_req(
            Op::Create,
            "SAI_OBJECT_TYPE_VLAN:oid:0x1",
            Body::Attrs(&[("a", "b")]),
        );
        // Truncated.
        let e = decode_request(&b[..b.len() - 1], 77).unwrap_err();
        assert_eq!(e.record_seq, 77);
        assert_eq!(e.what, "body length disagrees with the record length");
        // A string length beyond the end, with a consistent body length.
        let mut bad = b.clone();
        bad[24..28].copy_from_slice(&1000u32.to_le_bytes());
        let e = decode_request(&bad, 78).unwrap_err();
        assert_eq!((e.what, e.offset), ("string runs past the end", 24));
        assert!(e.to_string().contains("record 78"));
        // Not UTF-8.
        let mut bad = b.clone();
        bad[28] = 0xFF;
        assert_eq!(
            decode_request(&bad, 1).unwrap_err().what,
            "string is not UTF-8"
        );
        // Unknown op and version.
        let mut bad = b.clone();
        bad[1] = 200;
        assert_eq!(decode_request(&bad, 1).unwrap_err().what, "unknown op");
        let mut bad = b;
        bad[0] = 9;
        assert_eq!(
            decode_request(&bad, 1).unwrap_err().what,
            "unknown codec version"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Arbitrary bytes: every decoder returns an error or a value, never panics,
        /// and iterating what it returns never panics either.
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(r) = decode_request(&bytes, 1) {
                let _ = r.attrs.clone().count();
                let _ = r.objects.clone().map(|(_, a)| a.count()).sum::<usize>();
            }
            let _ = decode_response(&bytes, 1).map(|r| r.attrs.count());
            let _ = decode_notification(&bytes, 1);
        }

        /// Valid messages with random mutations: still never a panic, and an
        /// unmutated message always decodes to what was encoded.
        #[test]
        fn mutated_messages_never_panic(
            key in "[A-Z_]{1,20}:oid:0x[0-9a-f]{1,16}",
            attrs in proptest::collection::vec(("[A-Z_]{1,24}", "[ -~]{0,24}"), 0..6),
            flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
        ) {
            let pairs: Vec<(&str, &str)> = attrs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
            let mut b = enc_req(Op::Create, &key, Body::Attrs(&pairs));
            let r = decode_request(&b, 1).unwrap();
            prop_assert_eq!(r.key, key.as_str());
            prop_assert_eq!(r.attrs.collect::<Vec<_>>(), pairs.clone());
            for (at, v) in flips {
                let n = b.len();
                b[at % n] ^= v;
            }
            if let Ok(r) = decode_request(&b, 1) {
                let _ = r.attrs.count();
            }
        }
    }
}
