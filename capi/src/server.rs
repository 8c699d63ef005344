//! The server of a channel (syncd's side): `sairing_server_*`.

use std::collections::VecDeque;
use std::ffi::{c_char, c_int};
use std::os::fd::{AsFd, AsRawFd};

use sairing_ring::Mark;
use sairing_transport::{AccessPolicy, Op, Server, ServerOptions, Ticket};

use crate::*;

/// A channel's server. Opaque.
pub struct SairingServer {
    server: Server,
    /// Where each request returned and not released yet ends, by record
    /// sequence number (only without auto-release).
    marks: VecDeque<(u64, Mark)>,
    attrs: Vec<SairingAttr>,
    object_attrs: Vec<SairingAttr>,
    objects: Vec<SairingObject>,
    spans: Vec<(usize, usize)>,
    scratch: Vec<(Utf8, Utf8)>,
    statuses: Vec<Utf8>,
    /// The requests received and not answered yet, oldest first: answers go
    /// in this order (the client drops an answer older than one it has).
    owed: VecDeque<Owed>,
}

/// An answer owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owed {
    /// To a request handed to the caller.
    Request(Ticket),
    /// To a record that did not decode: `SAI_STATUS_FAILURE`, sent by the
    /// library once the answers before it are out.
    Undecodable(Ticket),
}

impl SairingServer {
    /// Sends the failures owed at the front of the queue (records that did
    /// not decode, once every request before them is answered).
    #[inline]
    fn answer_undecodable(&mut self) -> Result<(), Fail> {
        while let Some(&Owed::Undecodable(t)) = self.owed.front() {
            self.server
                .respond_to::<&str, &str>(t, "SAI_STATUS_FAILURE", &[], &[])?;
            self.owed.pop_front();
        }
        Ok(())
    }
}

/// How a server behaves. Zeroed is the default: 50 µs of spinning (growing
/// while traffic flows), 30 s to wait for space in a full response ring, only
/// this uid admitted.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SairingServerOptions {
    /// Busy-poll at least this many microseconds before sleeping (0: the
    /// default, 50; `UINT64_MAX`: never sleep). While traffic flows the spin
    /// grows, up to 2 ms (or this, when longer).
    pub spin_us: u64,
    /// Give up waiting for space in the response ring after this many
    /// milliseconds (0: the default, 30000).
    pub timeout_ms: u64,
    /// Also admit clients whose primary group is this gid (negative: none).
    /// Zeroed options mean gid 0 is not admitted: set it to -1 or a gid.
    pub allow_gid: i64,
    /// Set to admit `allow_gid`; without it `allow_gid` is ignored.
    pub use_allow_gid: bool,
}

/// What a response must carry to reach its client: copy it from the request
/// to answer later, after the next `sairing_server_recv`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SairingTicket {
    /// The request's op.
    pub op: u8,
    /// The client incarnation that sent it.
    pub epoch: u32,
    /// Its sequence number.
    pub seq: u64,
}

/// A request, as a view into the server (valid until the next
/// `sairing_server_recv`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SairingRequest {
    /// `SAIRING_OP_*`.
    pub op: u8,
    /// What its answer must carry.
    pub ticket: SairingTicket,
    /// Its ring record's sequence number (for `sairing_server_release_through`).
    pub record_seq: u64,
    /// `SAI_OBJECT_TYPE_<T>:<id>`, the object type of a bulk request, or the
    /// notify name (INIT_VIEW, ...).
    pub key: SairingStr,
    /// Attributes (non-bulk).
    pub attrs: *const SairingAttr,
    /// How many.
    pub attr_count: usize,
    /// Objects (bulk).
    pub objects: *const SairingObject,
    /// How many.
    pub object_count: usize,
}

/// Attaches to the channel in `dir` (NUL-terminated) as its server and starts
/// listening; stores the handle in `*out`. `opts` may be NULL (defaults).
/// Requests sent while no server ran are the first ones received.
///
/// # Safety
/// `dir` is NULL or NUL-terminated; `opts` is NULL or valid; `out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_server_open(
    dir: *const c_char,
    opts: *const SairingServerOptions,
    out: *mut *mut SairingServer,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let dir = unsafe { path(dir)? };
        // SAFETY: NULL or valid, by the contract above.
        let o = unsafe { opts.as_ref() }.copied().unwrap_or_default();
        let allow_gid = match (o.use_allow_gid, u32::try_from(o.allow_gid)) {
            (false, _) => None,
            (true, Ok(g)) => Some(g),
            (true, Err(_)) => return Err(Fail::invalid(format!("no gid {}", o.allow_gid))),
        };
        let options = ServerOptions {
            wait: wait_policy(o.spin_us, o.timeout_ms, false),
            access: AccessPolicy { allow_gid },
        };
        // SAFETY: `out` is NULL or writable, by the contract above.
        unsafe {
            open_into(out, || {
                let mut server = Server::open(&dir, &options)?;
                // Answered in its turn, after the requests read before it.
                server.set_answer_undecodable(false);
                Ok(SairingServer {
                    server,
                    marks: VecDeque::new(),
                    attrs: Vec::new(),
                    object_attrs: Vec::new(),
                    objects: Vec::new(),
                    spans: Vec::new(),
                    scratch: Vec::new(),
                    statuses: Vec::new(),
                    // A caller rarely holds more answers than this.
                    owed: VecDeque::with_capacity(64),
                })
            })
        }
    })
}

/// Stops listening, detaches and frees the server. NULL is ignored.
///
/// # Safety
/// `s` is NULL or a server handle not closed yet; it is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sairing_server_close(s: *mut SairingServer) {
    // SAFETY: NULL or a live handle not used again, by the contract above.
    unsafe { close(s) }
}

/// Takes the next request, waiting up to `timeout_ms` (0: not at all;
/// negative: for ever): `SAIRING_OK` with it in `*out`, `SAIRING_EMPTY`, or
/// `SAIRING_ERR_DECODE` for a record that did not decode (it is skipped and
/// answered with `SAI_STATUS_FAILURE` in its turn, once the requests received
/// before it are answered; call again).
///
/// # Safety
/// `s` is a live server or NULL; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_server_recv(
    s: *mut SairingServer,
    timeout_ms: i64,
    out: *mut SairingRequest,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(s, "server")? };
        // Failures still owed because the response ring was full.
        h.answer_undecodable()?;
        let inc = match h.server.recv(timeout(timeout_ms)) {
            Ok(Some(inc)) => inc,
            Ok(None) => return Ok(SAIRING_EMPTY),
            Err(sairing_transport::Error::Decode(e)) => {
                let t = h.server.undecodable_ticket(&e);
                h.owed.push_back(Owed::Undecodable(t));
                // Now if nothing is owed before it; a full response ring
                // leaves it owed, and the decode error is still the news.
                let _ = h.answer_undecodable();
                return Err(sairing_transport::Error::Decode(e).into());
            }
            Err(e) => return Err(e.into()),
        };
        // The views point into the server's private copy of the record, which
        // stays put until the next recv; only the borrow ends here.
        let r = &inc.request;
        h.attrs.clear();
        h.attrs.extend(r.attrs.clone().map(|(n, v)| SairingAttr {
            name: SairingStr::of(n),
            value: SairingStr::of(v),
        }));
        h.object_attrs.clear();
        h.spans.clear();
        h.objects.clear();
        // Most requests are not bulk: nothing more to walk.
        if !r.objects.is_empty() {
            for (id, attrs) in r.objects.clone() {
                let start = h.object_attrs.len();
                h.object_attrs.extend(attrs.map(|(n, v)| SairingAttr {
                    name: SairingStr::of(n),
                    value: SairingStr::of(v),
                }));
                h.spans.push((start, h.object_attrs.len()));
                h.objects.push(SairingObject {
                    id: SairingStr::of(id),
                    attrs: std::ptr::null(),
                    attr_count: 0,
                });
            }
            // Pointers only once `object_attrs` no longer grows.
            for (o, &(a, b)) in h.objects.iter_mut().zip(&h.spans) {
                o.attrs = h.object_attrs[a..].as_ptr();
                o.attr_count = b - a;
            }
        }
        let t = inc.ticket();
        let view = SairingRequest {
            op: r.op as u8,
            ticket: SairingTicket {
                op: t.op as u8,
                epoch: t.epoch,
                seq: t.seq,
            },
            record_seq: inc.record_seq,
            key: SairingStr::of(r.key),
            attrs: h.attrs.as_ptr(),
            attr_count: h.attrs.len(),
            objects: h.objects.as_ptr(),
            object_count: h.objects.len(),
        };
        let record_seq = inc.record_seq;
        h.owed.push_back(Owed::Request(t));
        if !h.server.auto_release() {
            h.marks.push_back((record_seq, h.server.mark()));
        }
        // SAFETY: NULL or writable.
        unsafe { put(out, view) };
        Ok(SAIRING_OK)
    })
}

/// Answers the request `ticket` came from: a status, the attributes of a get
/// (`n` at `attrs`), one status per object of a bulk call (`m` at
/// `statuses`). Answer in request order, each once. Waits for space if the
/// response ring is full.
///
/// # Safety
/// `s` is a live server or NULL; `ticket` is NULL or valid; the strings and
/// arrays are valid for the call.
#[no_mangle]
pub unsafe extern "C" fn sairing_server_respond(
    s: *mut SairingServer,
    ticket: *const SairingTicket,
    status: SairingStr,
    attrs: *const SairingAttr,
    n: usize,
    statuses: *const SairingStr,
    m: usize,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(s, "server")? };
        // SAFETY: NULL or valid.
        let t = unsafe { ticket.as_ref() }.ok_or_else(|| Fail::invalid("ticket is NULL"))?;
        let op = Op::from_u8(t.op).ok_or_else(|| Fail::invalid(format!("no op {}", t.op)))?;
        // SAFETY: valid for the call.
        let status = unsafe { text(status, "status")? };
        // SAFETY: `m` strings at `statuses`, valid for the call.
        let status_list = unsafe { crate::c_array(statuses, m, "statuses")? };
        h.scratch.clear();
        h.statuses.clear();
        // SAFETY: `n` attributes at `attrs`, valid for the call.
        let built = unsafe { attr_list(attrs, n, &mut h.scratch) }.and_then(|()| {
            for st in status_list {
                // SAFETY: each string is valid for the call.
                h.statuses
                    .push(Utf8::of(unsafe { text(*st, "object status")? }));
            }
            Ok(())
        });
        let ticket = Ticket {
            op,
            epoch: t.epoch,
            seq: t.seq,
        };
        let r = built
            .and_then(|()| h.answer_undecodable())
            .and_then(|()| match h.owed.front() {
                Some(&Owed::Request(oldest)) if oldest == ticket => {
                    Ok(h.server
                        .respond_to(ticket, status, &h.scratch, &h.statuses)?)
                }
                Some(Owed::Request(oldest) | Owed::Undecodable(oldest)) => {
                    Err(Fail::invalid(format!(
                    "answers go in request order: the oldest request not answered is {}, not {}",
                    oldest.seq, ticket.seq
                )))
                }
                None => Err(Fail::invalid("no request is waiting for an answer")),
            });
        h.scratch.clear();
        h.statuses.clear();
        r?;
        h.owed.pop_front();
        // The answer went out; a failure owed after it that finds the ring
        // full goes with the next call.
        let _ = h.answer_undecodable();
        Ok(SAIRING_OK)
    })
}

/// Publishes a notification (`port_state_change`, ...) with a JSON payload.
///
/// # Safety
/// `s` is a live server or NULL; the strings are valid for the call.
#[no_mangle]
pub unsafe extern "C" fn sairing_server_notify(
    s: *mut SairingServer,
    name: SairingStr,
    payload: SairingStr,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(s, "server")? };
        // SAFETY: valid for the call.
        let (name, payload) = unsafe { (text(name, "name")?, text(payload, "payload")?) };
        h.server.notify(name, payload)?;
        Ok(SAIRING_OK)
    })
}

/// With auto-release (the default) a request's ring space is freed once the
/// next ones are read: a server that dies between reading a request and
/// making its effects durable loses it. Turn it off to free space only with
/// [`sairing_server_release_through`], once effects are durable.
///
/// # Safety
/// `s` is a live server or NULL.
#[no_mangle]
pub unsafe extern "C" fn sairing_server_set_auto_release(s: *mut SairingServer, on: bool) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(s, "server")? };
        if h.server.auto_release() != on {
            h.server.set_auto_release(on);
            h.marks.clear();
        }
        Ok(SAIRING_OK)
    })
}

/// Frees the ring space of every request received up to and including record
/// `record_seq` (`sairing_request.record_seq`): their effects are durable, and
/// a restarted server will not see them again. Requests after it stay.
///
/// # Safety
/// `s` is a live server or NULL.
#[no_mangle]
pub unsafe extern "C" fn sairing_server_release_through(
    s: *mut SairingServer,
    record_seq: u64,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(s, "server")? };
        let mut last = None;
        while let Some(&(seq, mark)) = h.marks.front() {
            if seq > record_seq {
                break;
            }
            last = Some(mark);
            h.marks.pop_front();
        }
        if let Some(mark) = last {
            h.server.release_to(mark);
        }
        Ok(SAIRING_OK)
    })
}

/// The descriptor an event loop watches for the client's doorbell; the same
/// for the server's life. Negative: an error code.
///
/// # Safety
/// `s` is a live server or NULL.
#[no_mangle]
pub unsafe extern "C" fn sairing_server_fd(s: *mut SairingServer) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(s, "server")? };
        Ok(h.server.as_fd().as_raw_fd())
    })
}

/// The sockets to watch beside [`sairing_server_fd`] (the listener, clients
/// still to say hello, the client's connection): up to `cap` of them into
/// `fds`, their number into `*n` (which may exceed `cap`: ask again with
/// room). The set changes: ask after each wake.
///
/// # Safety
/// `s` is a live server or NULL; `fds` has room for `cap` ints (or is NULL
/// with `cap` 0); `n` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_server_socket_fds(
    s: *mut SairingServer,
    fds: *mut c_int,
    cap: usize,
    n: *mut usize,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(s, "server")? };
        if cap > 0 && fds.is_null() {
            return Err(Fail::invalid(format!("fds is NULL with room for {cap}")));
        }
        let all = h.server.socket_fds();
        for (i, fd) in all.iter().take(cap).enumerate() {
            // SAFETY: `i < cap`, and `fds` has room for `cap`.
            unsafe { fds.add(i).write(*fd) };
        }
        // SAFETY: NULL or writable.
        unsafe { put(n, all.len()) };
        Ok(SAIRING_OK)
    })
}

/// Before an event loop waits: `*wait` false when a request is already there.
///
/// # Safety
/// `s` is a live server or NULL; `wait` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_server_prepare_to_wait(
    s: *mut SairingServer,
    wait: *mut bool,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(s, "server")? };
        let w = h.server.prepare_to_wait()?;
        // SAFETY: NULL or writable.
        unsafe { put(wait, w) };
        Ok(SAIRING_OK)
    })
}

/// After an event loop's wait returned (whatever woke it).
///
/// # Safety
/// `s` is a live server or NULL.
#[no_mangle]
pub unsafe extern "C" fn sairing_server_after_wake(s: *mut SairingServer) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(s, "server")? };
        h.server.after_wake()?;
        Ok(SAIRING_OK)
    })
}

/// 1 when a client is connected now, 0 when not; negative: an error code.
///
/// # Safety
/// `s` is a live server or NULL.
#[no_mangle]
pub unsafe extern "C" fn sairing_server_connected(s: *mut SairingServer) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(s, "server")? };
        Ok(c_int::from(h.server.connected()))
    })
}

/// How the server's sleeps have ended so far, into `*out`.
///
/// # Safety
/// `s` is a live server or NULL; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_server_wait_stats(
    s: *mut SairingServer,
    out: *mut SairingWaitStats,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(s, "server")? };
        // SAFETY: `out` is NULL or writable, by the contract above.
        unsafe { put_wait_stats(out, h.server.wait_stats()) }
    })
}
