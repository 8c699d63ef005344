//! The client of a channel (orchagent's side): `sairing_client_*`.

use std::ffi::{c_char, c_int};
use std::os::fd::{AsFd, AsRawFd};

use sairing_transport::{
    Body, BulkObject, Client, ClientOptions, Mode, Notification, Op, Outcome, Response,
};

use crate::*;

/// A channel's client. Opaque.
pub struct SairingClient {
    client: Client,
    response: Option<Response>,
    response_attrs: Vec<SairingAttr>,
    response_statuses: Vec<SairingStr>,
    notification: Option<Notification>,
}

/// One request of a batch ([`sairing_client_send_batch`]).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SairingCall {
    /// `SAIRING_OP_*`, but not the bulk ones.
    pub op: u8,
    /// `SAI_OBJECT_TYPE_<T>:<id>`, or the notify name.
    pub key: SairingStr,
    /// Its attributes.
    pub attrs: *const SairingAttr,
    /// How many.
    pub attr_count: usize,
}

/// How a client behaves. Zeroed is the default: sync, 50 µs of spinning
/// (growing while traffic flows), 30 s timeout, waiting for space when the
/// ring is full.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SairingClientOptions {
    /// 0 sync (every call waits), 1 async (create/set/remove do not wait;
    /// failures are collected), 2 pipelined (no call waits).
    pub mode: u32,
    /// Busy-poll at least this many microseconds before sleeping (0: the
    /// default, 50; `UINT64_MAX`: never sleep). While traffic flows the spin
    /// grows, up to 2 ms (or this, when longer).
    pub spin_us: u64,
    /// Give up waiting for an answer or for space after this many
    /// milliseconds (0: the default, 30000).
    pub timeout_ms: u64,
    /// Return `SAIRING_ERR_FULL` at once instead of waiting for space.
    pub nonblocking: bool,
}

/// A response, as a view into the client (valid until the next call on it that
/// hands back a response).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SairingResponse {
    /// The op of the request it answers.
    pub op: u8,
    /// That request's sequence number.
    pub seq: u64,
    /// `SAI_STATUS_SUCCESS`, ... (empty when the call only sent).
    pub status: SairingStr,
    /// The attributes a get returned.
    pub attrs: *const SairingAttr,
    /// How many.
    pub attr_count: usize,
    /// One status per object of a bulk call.
    pub statuses: *const SairingStr,
    /// How many.
    pub status_count: usize,
}

/// A notification from the server (`port_state_change`, ...), as a view into
/// the client (valid until the next notification handed back).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SairingNotification {
    /// Its name.
    pub name: SairingStr,
    /// Its payload (JSON).
    pub payload: SairingStr,
}

fn mode(m: u32) -> Result<Mode, Fail> {
    match m {
        0 => Ok(Mode::Sync),
        1 => Ok(Mode::Async),
        2 => Ok(Mode::Pipelined),
        _ => Err(Fail::invalid(format!("no client mode {m}"))),
    }
}

impl SairingClient {
    /// Keeps `r` and writes its view to `out`.
    fn hand_back(&mut self, r: Response, out: *mut SairingResponse) {
        self.response_attrs.clear();
        self.response_statuses.clear();
        let r = self.response.insert(r);
        self.response_attrs
            .extend(r.attrs.iter().map(|(n, v)| SairingAttr {
                name: SairingStr::of(n),
                value: SairingStr::of(v),
            }));
        self.response_statuses
            .extend(r.statuses.iter().map(|s| SairingStr::of(s)));
        let view = SairingResponse {
            op: r.op as u8,
            seq: r.seq,
            status: SairingStr::of(&r.status),
            attrs: self.response_attrs.as_ptr(),
            attr_count: self.response_attrs.len(),
            statuses: self.response_statuses.as_ptr(),
            status_count: self.response_statuses.len(),
        };
        // SAFETY: `out` is NULL or writable, by the entry point's contract.
        unsafe { put(out, view) };
    }

    /// Sends one request built from C arguments; returns its op and sequence
    /// number.
    ///
    /// # Safety
    /// As for `sairing_client_send`.
    unsafe fn send_attrs(
        &mut self,
        op: u8,
        key: SairingStr,
        attrs: *const SairingAttr,
        n: usize,
    ) -> Result<(Op, u64), Fail> {
        let op = crate::op(op, false)?;
        // SAFETY: the caller's strings and attributes are valid for the call;
        // their bytes are checked as UTF-8 as they are copied.
        let (key, attrs) = unsafe { (CText::of(&key, "key")?, CAttr::list(attrs, n)?) };
        Ok((op, self.client.send(op, key, &Body::Attrs(attrs))?))
    }

    /// # Safety
    /// As for `sairing_client_send_bulk`.
    unsafe fn send_bulk(
        &mut self,
        op: u8,
        object_type: SairingStr,
        objects: *const SairingObject,
        n: usize,
    ) -> Result<(Op, u64), Fail> {
        let op = crate::op(op, true)?;
        // SAFETY: the caller's strings are valid for the call.
        let ty = unsafe { CText::of(&object_type, "object type")? };
        // SAFETY: `n` objects at `objects`, by the caller's contract.
        let list = unsafe { crate::c_array(objects, n, "objects")? };
        let objs = list
            .iter()
            .map(|o| {
                // SAFETY: each object's id and attributes are valid for the
                // call, by the caller's contract.
                let (id, attrs) = unsafe {
                    (
                        CText::of(&o.id, "object id")?,
                        CAttr::list(o.attrs, o.attr_count)?,
                    )
                };
                Ok(BulkObject { id, attrs })
            })
            .collect::<Result<Vec<_>, Fail>>()?;
        Ok((op, self.client.send(op, ty, &Body::Bulk(&objs))?))
    }

    /// A call's result for C, once its request is sent (`sent`): waits for
    /// the answer when the mode says so. `SAIRING_OK` with the answer, or
    /// `SAIRING_SENT` with only the sequence number, which a call whose wait
    /// failed (a timeout, a refused connection) also stores before its error:
    /// the request is in the ring and will run.
    fn called(
        &mut self,
        sent: Result<(Op, u64), Fail>,
        out: *mut SairingResponse,
    ) -> Result<c_int, Fail> {
        let (op, seq) = sent?;
        if !self.client.mode().waits_for(op) {
            return Ok(self.outcome(Outcome::Sent(seq), out));
        }
        match self.client.wait_for(seq, None) {
            Ok(r) => Ok(self.outcome(Outcome::Done(r), out)),
            Err(e) => {
                self.outcome(Outcome::Sent(seq), out);
                Err(Fail::from(e))
            }
        }
    }

    fn outcome(&mut self, o: Outcome, out: *mut SairingResponse) -> c_int {
        match o {
            Outcome::Done(r) => {
                self.hand_back(r, out);
                SAIRING_OK
            }
            Outcome::Sent(seq) => {
                let view = SairingResponse {
                    op: 0,
                    seq,
                    status: SairingStr::EMPTY,
                    attrs: std::ptr::null(),
                    attr_count: 0,
                    statuses: std::ptr::null(),
                    status_count: 0,
                };
                // SAFETY: `out` is NULL or writable, by the entry point's contract.
                unsafe { put(out, view) };
                SAIRING_SENT
            }
        }
    }
}

/// Attaches to the channel in `dir` (NUL-terminated) as its client and stores
/// the handle in `*out`. `opts` may be NULL (defaults). The server need not be
/// running: requests wait in the ring.
///
/// # Safety
/// `dir` is NULL or NUL-terminated; `opts` is NULL or valid; `out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_client_open(
    dir: *const c_char,
    opts: *const SairingClientOptions,
    out: *mut *mut SairingClient,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let dir = unsafe { path(dir)? };
        // SAFETY: NULL or valid, by the contract above.
        let o = unsafe { opts.as_ref() }.copied().unwrap_or_default();
        let options = ClientOptions {
            mode: mode(o.mode)?,
            wait: wait_policy(o.spin_us, o.timeout_ms, o.nonblocking),
        };
        // SAFETY: `out` is NULL or writable, by the contract above.
        unsafe {
            open_into(out, || {
                Ok(SairingClient {
                    client: Client::open(&dir, &options)?,
                    response: None,
                    response_attrs: Vec::new(),
                    response_statuses: Vec::new(),
                    notification: None,
                })
            })
        }
    })
}

/// Detaches and frees the client. NULL is ignored.
///
/// # Safety
/// `c` is NULL or a client handle not closed yet; it is not used afterwards.
#[no_mangle]
pub unsafe extern "C" fn sairing_client_close(c: *mut SairingClient) {
    // SAFETY: NULL or a live handle not used again, by the contract above.
    unsafe { close(c) }
}

/// Sends a request (`op` one of `SAIRING_OP_*` but the bulk ones) and never
/// waits for its answer; stores its sequence number in `*seq` (may be NULL).
/// Waits for space in a full ring unless the client is non-blocking
/// (`SAIRING_ERR_FULL`).
///
/// # Safety
/// `c` is a live client or NULL; `key` and the `n` attributes at `attrs` are
/// valid for the call; `seq` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_client_send(
    c: *mut SairingClient,
    op: u8,
    key: SairingStr,
    attrs: *const SairingAttr,
    n: usize,
    seq: *mut u64,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "client")? };
        // SAFETY: by the contract above.
        let (_, s) = unsafe { h.send_attrs(op, key, attrs, n)? };
        // SAFETY: NULL or writable.
        unsafe { put(seq, s) };
        Ok(SAIRING_OK)
    })
}

/// Sends the `n` requests at `calls` in one go and never waits for their
/// answers: whether the server sleeps and must be woken is checked once, at
/// the end (`sairing_client_send` checks after each request). Their sequence
/// numbers follow each other from `*first_seq` (may be NULL). A request that
/// is not valid (a bulk or unknown op, a NULL array or string) fails the whole
/// batch before any is sent. Strings are checked as UTF-8 while they are
/// copied into the ring, so one that is not cuts the batch short there
/// (`SAIRING_ERR_INVALID`), as do a full ring (`SAIRING_ERR_FULL`: a
/// non-blocking client, or a wait for space that timed out), a request too
/// large for the ring (`SAIRING_ERR_TOO_LARGE`) and a connection error met
/// while waiting for space. `*sent` (may be NULL) is how many were sent: all
/// of them, unless an error cut the batch short; those are sent, the server
/// is woken for them, and the rest can be sent again. The first of the rest
/// is the one that stopped the batch, except for a connection error: one kept
/// from an earlier call is reported before anything is sent (`*sent` 0), and
/// one met while waiting for space stops the batch at the request that
/// waited.
///
/// # Safety
/// `c` is a live client or NULL; `calls` points at `n` calls (or is NULL with
/// `n` 0) whose strings and attributes are valid for the call; `first_seq`
/// and `sent` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_client_send_batch(
    c: *mut SairingClient,
    calls: *const SairingCall,
    n: usize,
    first_seq: *mut u64,
    sent: *mut usize,
) -> c_int {
    // SAFETY: NULL or writable, by the contract above.
    unsafe { put(sent, 0usize) };
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "client")? };
        // The batch's first sequence number, whatever stops it.
        let before = h.client.next_seq();
        // SAFETY: NULL or writable, by the contract above.
        unsafe { put(first_seq, before) };
        // SAFETY: `n` calls at `calls`, by the contract above.
        let list = unsafe { crate::c_array(calls, n, "calls")? };
        // Everything but the strings' bytes is checked before any request
        // goes: the ops, and that no pointer is NULL with a length. The bytes
        // are checked as UTF-8 while they are copied into the ring.
        for q in list {
            crate::op(q.op, false)?;
            // SAFETY: the caller's strings and attributes are valid for the
            // call.
            unsafe {
                CText::of(&q.key, "key")?;
                CAttr::list(q.attrs, q.attr_count)?;
            }
        }
        let client = &mut h.client;
        let requests = list.iter().map(|q| {
            // SAFETY: as above, and checked above.
            let (key, attrs) = unsafe {
                (
                    CText::of_again(&q.key),
                    CAttr::list_again(q.attrs, q.attr_count),
                )
            };
            (
                Op::from_u8(q.op).expect("checked above"),
                key,
                Body::Attrs(attrs),
            )
        });
        let r = client.send_batch(requests).map_err(Fail::from);
        let went = h.client.next_seq().wrapping_sub(before) as usize;
        // SAFETY: NULL or writable, by the contract above.
        unsafe { put(sent, went) };
        r.map(|_| SAIRING_OK)
    })
}

/// Sends a bulk request (`SAIRING_OP_BULK_*`) on `n` objects of `object_type`
/// and never waits for its answer.
///
/// # Safety
/// As for [`sairing_client_send`], with `n` objects at `objects`.
#[no_mangle]
pub unsafe extern "C" fn sairing_client_send_bulk(
    c: *mut SairingClient,
    op: u8,
    object_type: SairingStr,
    objects: *const SairingObject,
    n: usize,
    seq: *mut u64,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "client")? };
        // SAFETY: by the contract above.
        let (_, s) = unsafe { h.send_bulk(op, object_type, objects, n)? };
        // SAFETY: NULL or writable.
        unsafe { put(seq, s) };
        Ok(SAIRING_OK)
    })
}

/// A SAI call as the client's mode says: `SAIRING_OK` with the answer in
/// `*out` when it waited (sync mode; get, notify and flush in async mode),
/// `SAIRING_SENT` with only `out->seq` when it did not. When the wait fails
/// after the request went (`SAIRING_ERR_TIMEOUT`, a refused or broken
/// connection), `out->seq` is set too: the request is in the ring and will
/// run, so it must not be sent again.
///
/// # Safety
/// As for [`sairing_client_send`]; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_client_call(
    c: *mut SairingClient,
    op: u8,
    key: SairingStr,
    attrs: *const SairingAttr,
    n: usize,
    out: *mut SairingResponse,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "client")? };
        // SAFETY: by the contract above.
        let r = unsafe { h.send_attrs(op, key, attrs, n) };
        h.called(r, out)
    })
}

/// [`sairing_client_call`] for a bulk op: the answer has one status per object.
///
/// # Safety
/// As for [`sairing_client_send_bulk`]; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_client_call_bulk(
    c: *mut SairingClient,
    op: u8,
    object_type: SairingStr,
    objects: *const SairingObject,
    n: usize,
    out: *mut SairingResponse,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "client")? };
        // SAFETY: by the contract above.
        let r = unsafe { h.send_bulk(op, object_type, objects, n) };
        h.called(r, out)
    })
}

/// Waits up to `timeout_ms` (negative: the client's timeout) for the answer to
/// request `seq`: `SAIRING_OK` with it in `*out`, or `SAIRING_ERR_TIMEOUT` (the
/// request is still in the ring and will run). A connection error met while
/// waiting (`SAIRING_ERR_REFUSED`, `SAIRING_ERR_IO`) also ends the wait; the
/// request is still in the ring, and a later wait may yet see its answer.
///
/// # Safety
/// `c` is a live client or NULL; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_client_wait(
    c: *mut SairingClient,
    seq: u64,
    timeout_ms: i64,
    out: *mut SairingResponse,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "client")? };
        let r = h.client.wait_for(seq, timeout(timeout_ms))?;
        h.hand_back(r, out);
        Ok(SAIRING_OK)
    })
}

/// The next answer in arrival order (pipelined mode): `SAIRING_OK` with it in
/// `*out`, or `SAIRING_EMPTY` when none came within `timeout_ms` (0: look
/// without waiting; negative: the client's timeout).
///
/// # Safety
/// As for [`sairing_client_wait`].
#[no_mangle]
pub unsafe extern "C" fn sairing_client_next_completion(
    c: *mut SairingClient,
    timeout_ms: i64,
    out: *mut SairingResponse,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "client")? };
        match h.client.next_completion(timeout(timeout_ms))? {
            Some(r) => {
                h.hand_back(r, out);
                Ok(SAIRING_OK)
            }
            None => Ok(SAIRING_EMPTY),
        }
    })
}

/// Waits until every request sent so far is answered (`SAIRING_ERR_TIMEOUT`
/// after `timeout_ms`; negative: the client's timeout). A connection error
/// ends the wait as it does [`sairing_client_wait`]'s.
///
/// # Safety
/// `c` is a live client or NULL.
#[no_mangle]
pub unsafe extern "C" fn sairing_client_wait_all(c: *mut SairingClient, timeout_ms: i64) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "client")? };
        h.client.wait_all(timeout(timeout_ms))?;
        Ok(SAIRING_OK)
    })
}

/// The next failed answer to an async call not waited for: `SAIRING_OK` with
/// it in `*out`, or `SAIRING_EMPTY` when there is none.
///
/// # Safety
/// As for [`sairing_client_wait`].
#[no_mangle]
pub unsafe extern "C" fn sairing_client_take_failure(
    c: *mut SairingClient,
    out: *mut SairingResponse,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "client")? };
        h.client.pump()?;
        match h.client.next_failure() {
            Some(r) => {
                h.hand_back(r, out);
                Ok(SAIRING_OK)
            }
            None => Ok(SAIRING_EMPTY),
        }
    })
}

/// Reads every answer and notification that has arrived, without waiting;
/// stores how many in `*n` (may be NULL).
///
/// # Safety
/// `c` is a live client or NULL; `n` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_client_pump(c: *mut SairingClient, n: *mut usize) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "client")? };
        let got = h.client.pump()?;
        // SAFETY: NULL or writable.
        unsafe { put(n, got) };
        Ok(SAIRING_OK)
    })
}

/// The next notification (queued ones first), waiting up to `timeout_ms` (0:
/// not at all; negative: the client's timeout, as for the other waits):
/// `SAIRING_OK` with it in `*out`, or `SAIRING_EMPTY`.
///
/// # Safety
/// `c` is a live client or NULL; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_client_next_notification(
    c: *mut SairingClient,
    timeout_ms: i64,
    out: *mut SairingNotification,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "client")? };
        let wait = timeout(timeout_ms).unwrap_or(h.client.wait_policy().timeout);
        let Some(n) = h.client.next_notification(wait)? else {
            return Ok(SAIRING_EMPTY);
        };
        let n = h.notification.insert(n);
        let view = SairingNotification {
            name: SairingStr::of(&n.name),
            payload: SairingStr::of(&n.payload),
        };
        // SAFETY: NULL or writable.
        unsafe { put(out, view) };
        Ok(SAIRING_OK)
    })
}

/// The descriptor an event loop watches for the server's doorbell (readable
/// when rung or when the server hangs up); the same for the client's life.
/// Negative: an error code.
///
/// # Safety
/// `c` is a live client or NULL.
#[no_mangle]
pub unsafe extern "C" fn sairing_client_fd(c: *mut SairingClient) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "client")? };
        Ok(h.client.as_fd().as_raw_fd())
    })
}

/// The descriptor to watch beside [`sairing_client_fd`]: the server's
/// connection, or the handshake in flight; -1 when neither exists (then wait
/// at most 20 ms and call [`sairing_client_after_wake`]: it connects again).
///
/// # Safety
/// `c` is a live client or NULL.
#[no_mangle]
pub unsafe extern "C" fn sairing_client_socket_fd(c: *mut SairingClient) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "client")? };
        Ok(h.client.socket_fd().unwrap_or(-1))
    })
}

/// Before an event loop waits: `*wait` is set to false when an answer is
/// already there (do not wait), true otherwise.
///
/// # Safety
/// `c` is a live client or NULL; `wait` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_client_prepare_to_wait(
    c: *mut SairingClient,
    wait: *mut bool,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "client")? };
        let w = h.client.prepare_to_wait()?;
        // SAFETY: NULL or writable.
        unsafe { put(wait, w) };
        Ok(SAIRING_OK)
    })
}

/// After an event loop's wait returned (whatever woke it).
///
/// # Safety
/// `c` is a live client or NULL.
#[no_mangle]
pub unsafe extern "C" fn sairing_client_after_wake(c: *mut SairingClient) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "client")? };
        h.client.after_wake()?;
        Ok(SAIRING_OK)
    })
}

/// 1 when the server is connected now, 0 when not; negative: an error code.
///
/// # Safety
/// `c` is a live client or NULL.
#[no_mangle]
pub unsafe extern "C" fn sairing_client_connected(c: *mut SairingClient) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "client")? };
        Ok(c_int::from(h.client.connected()))
    })
}

/// How the client's sleeps have ended so far, into `*out`.
///
/// # Safety
/// `c` is a live client or NULL; `out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sairing_client_wait_stats(
    c: *mut SairingClient,
    out: *mut SairingWaitStats,
) -> c_int {
    call(|| {
        // SAFETY: by the contract above.
        let h = unsafe { handle(c, "client")? };
        // SAFETY: `out` is NULL or writable, by the contract above.
        unsafe { put_wait_stats(out, h.client.wait_stats()) }
    })
}
