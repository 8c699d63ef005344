//! Decoding: every length, string and count checked before anything is
//! returned; the views borrow from the record's private copy.

use zerocopy::FromBytes;

use super::*;

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
        let s =
            text(&self.b[start..end]).map_err(|_| ("string is not UTF-8", self.base + start))?;
        self.at = end;
        Ok(s)
    }

    /// The next string, which a call to [`Reader::str`] on these same bytes
    /// has already found to be UTF-8: lengths and bounds are still checked,
    /// the text is not checked again.
    ///
    /// # Safety
    /// The string at the reader's position was validated by [`Reader::str`]
    /// on the same bytes (borrowed immutably for `'a`, so unchanged since).
    #[inline]
    unsafe fn validated_str(&mut self) -> Option<&'a str> {
        let len = self.u32().ok()? as usize;
        let end = self.at.checked_add(len).filter(|&e| e <= self.b.len())?;
        let bytes = &self.b[self.at..end];
        self.at = end;
        // SAFETY: UTF-8, by the caller's contract.
        Some(unsafe { std::str::from_utf8_unchecked(bytes) })
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
        // SAFETY: an Attrs is made only by `pairs`, which ran `str` over
        // every string it spans, and only over bytes borrowed for 'a; an
        // empty Attrs has none. (It walked the strings as this does, from the
        // same start, so each validated string is the one read here.)
        let (n, v) = unsafe { (self.r.validated_str()?, self.r.validated_str()?) };
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
