//! # sairing-capi
//!
//! sairing's C ABI (`include/sairing.h`, generated from this crate by cbindgen;
//! `include/sairing.hpp` is the C++ wrapper over it). Three kinds of handle:
//! a channel's client ([`client`]: orchagent's side), its server ([`server`]:
//! syncd's side), and the bare ring's producer and consumer ([`ring`]) for
//! users outside SAI.
//!
//! The rules every function keeps:
//! - It returns an `int`: [`SAIRING_OK`] (0), a positive outcome that is not an
//!   error ([`SAIRING_SENT`]: the call did not wait for its answer;
//!   [`SAIRING_EMPTY`]: nothing arrived within the timeout), or a negative
//!   error. Backpressure ([`SAIRING_ERR_FULL`]) is distinct from failure.
//!   [`sairing_strerror`] names a code; [`sairing_last_error`] gives the last
//!   error's detail on this thread.
//! - A NULL handle or pointer, a string that is not UTF-8, a count without its
//!   array, a length or count larger than any memory (more than
//!   `PTRDIFF_MAX` bytes), a misaligned array: [`SAIRING_ERR_INVALID`], never
//!   a crash. Other lengths are the caller's word, as `memcpy`'s are: the
//!   library reads that many bytes. A panic never crosses the
//!   boundary: it is caught and returned as [`SAIRING_ERR_PANIC`].
//! - The strings and arrays a caller passes stay unchanged until the call
//!   returns: a request's strings are checked as UTF-8 while they are copied
//!   into the ring, not before. A request is checked in three steps, and one
//!   that fails any sends nothing: its pointers and counts
//!   ([`SAIRING_ERR_INVALID`]), its size against the ring ([`SAIRING_ERR_FULL`],
//!   [`SAIRING_ERR_TOO_LARGE`]), then its bytes ([`SAIRING_ERR_INVALID`]).
//! - Strings cross as (pointer, length), never NUL-terminated except paths.
//!   What a function hands back (a response, a request, a notification, a
//!   record) is a view into memory its handle owns, valid until the next call
//!   on that handle that hands back the same kind of thing, or its close.
//!   Nothing is allocated for the caller to free except the handles.
//! - A handle is used by one thread at a time (it may move between threads).
#![deny(missing_docs)]

pub mod client;
pub mod ring;
pub mod server;

use std::cell::RefCell;
use std::ffi::{c_char, c_int, CStr, CString};
use std::marker::PhantomData;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::time::Duration;

use sairing_transport::{Attr, Text, WaitPolicy};

/// Success.
pub const SAIRING_OK: c_int = 0;
/// The request was sent; the call did not wait for its answer (async and
/// pipelined modes). Not an error.
pub const SAIRING_SENT: c_int = 1;
/// Nothing arrived within the timeout (no request, response, notification or
/// record). Not an error.
pub const SAIRING_EMPTY: c_int = 2;
/// A NULL handle or pointer, a length or count larger than any memory, a
/// misaligned array, a string that is not UTF-8, a bad op or option.
pub const SAIRING_ERR_INVALID: c_int = -1;
/// Backpressure: the ring is full (a non-blocking call, or the wait for space
/// timed out). Nothing of the request it stopped was sent (in a batch, those
/// before it were: `*sent`); try again later.
pub const SAIRING_ERR_FULL: c_int = -2;
/// The answer waited for did not come within the timeout. On a channel the
/// request is still in the ring and will run: this is not a failure of it.
pub const SAIRING_ERR_TIMEOUT: c_int = -3;
/// A message larger than the ring takes.
pub const SAIRING_ERR_TOO_LARGE: c_int = -4;
/// The other side refused this process, or this process refused the other
/// (not the channel's owner).
pub const SAIRING_ERR_REFUSED: c_int = -5;
/// A ring file is damaged, or was truncated under us.
pub const SAIRING_ERR_CORRUPT: c_int = -6;
/// A record did not decode. A server skips it (and answers it with
/// `SAI_STATUS_FAILURE`); call again for the next one.
pub const SAIRING_ERR_DECODE: c_int = -7;
/// Another live process holds this side of the ring or channel.
pub const SAIRING_ERR_BUSY: c_int = -8;
/// The channel or ring does not exist (or is not one).
pub const SAIRING_ERR_NOT_FOUND: c_int = -9;
/// An operating-system call failed.
pub const SAIRING_ERR_IO: c_int = -10;
/// A bug in sairing: a Rust panic, caught at the boundary. The handle should
/// be closed.
pub const SAIRING_ERR_PANIC: c_int = -11;

/// The ops of a request, as `sairing_request.op` and the `op` arguments carry
/// them.
pub const SAIRING_OP_CREATE: u8 = 1;
/// remove
pub const SAIRING_OP_REMOVE: u8 = 2;
/// set
pub const SAIRING_OP_SET: u8 = 3;
/// get
pub const SAIRING_OP_GET: u8 = 4;
/// bulk create
pub const SAIRING_OP_BULK_CREATE: u8 = 5;
/// bulk remove
pub const SAIRING_OP_BULK_REMOVE: u8 = 6;
/// bulk set
pub const SAIRING_OP_BULK_SET: u8 = 7;
/// bulk get
pub const SAIRING_OP_BULK_GET: u8 = 8;
/// notify syncd (INIT_VIEW, APPLY_VIEW, ...): the key names it
pub const SAIRING_OP_NOTIFY: u8 = 9;
/// FDB flush
pub const SAIRING_OP_FLUSH: u8 = 10;

/// The ABI this library implements; `SAIRING_ABI_VERSION` in the header must
/// equal it.
pub(crate) const ABI_VERSION: u32 = 1;

/// A string that crosses the boundary: `len` bytes of UTF-8 at `ptr`, not
/// NUL-terminated. `ptr` may be NULL when `len` is 0.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SairingStr {
    /// The first byte.
    pub ptr: *const c_char,
    /// How many bytes.
    pub len: usize,
}

/// One attribute: `SAI_PORT_ATTR_MTU` = `9100`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SairingAttr {
    /// Its name.
    pub name: SairingStr,
    /// Its value, serialized as sairedis does.
    pub value: SairingStr,
}

/// One object of a bulk call: its id and its attributes.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SairingObject {
    /// An OID (`oid:0x...`) or an entry's JSON.
    pub id: SairingStr,
    /// Its attributes.
    pub attrs: *const SairingAttr,
    /// How many.
    pub attr_count: usize,
}

impl SairingStr {
    const EMPTY: SairingStr = SairingStr {
        ptr: std::ptr::null(),
        len: 0,
    };

    /// A view of `s` (valid while `s` is).
    fn of(s: &str) -> SairingStr {
        SairingStr {
            ptr: s.as_ptr().cast(),
            len: s.len(),
        }
    }
}

/// What went wrong, for the return code and `sairing_last_error`.
pub(crate) struct Fail {
    pub(crate) code: c_int,
    detail: String,
}

impl Fail {
    pub(crate) fn invalid(detail: impl Into<String>) -> Fail {
        Fail {
            code: SAIRING_ERR_INVALID,
            detail: detail.into(),
        }
    }
}

impl From<sairing_transport::Error> for Fail {
    fn from(e: sairing_transport::Error) -> Fail {
        use sairing_transport::Error as E;
        let code = match &e {
            E::Ring(r) => return Fail::coded(ring_error_code(r), &e),
            E::Decode(_) | E::WrongKind { .. } => SAIRING_ERR_DECODE,
            E::NotText(_) => SAIRING_ERR_INVALID,
            E::Io { source, .. } if not_there(source) => SAIRING_ERR_NOT_FOUND,
            E::Io { .. } => SAIRING_ERR_IO,
            E::Refused { .. } | E::Handshake { .. } | E::Unsafe { .. } => SAIRING_ERR_REFUSED,
            E::Full { .. } => SAIRING_ERR_FULL,
            E::TooLarge { .. } => SAIRING_ERR_TOO_LARGE,
            E::Timeout { .. } => SAIRING_ERR_TIMEOUT,
            E::Exists { .. } | E::InUse { .. } => SAIRING_ERR_BUSY,
        };
        Fail::coded(code, &e)
    }
}

impl From<sairing_ring::Error> for Fail {
    fn from(e: sairing_ring::Error) -> Fail {
        Fail::coded(ring_error_code(&e), &e)
    }
}

impl From<sairing_ring::PushError> for Fail {
    fn from(e: sairing_ring::PushError) -> Fail {
        use sairing_ring::PushError as P;
        let code = match &e {
            P::Full { .. } => SAIRING_ERR_FULL,
            P::TooLarge { .. } => SAIRING_ERR_TOO_LARGE,
            P::BadKind(_) => SAIRING_ERR_INVALID,
            P::Ring(r) => ring_error_code(r),
        };
        Fail::coded(code, &e)
    }
}

impl Fail {
    /// `code`, with `e` as the detail.
    fn coded(code: c_int, e: &dyn std::fmt::Display) -> Fail {
        Fail {
            code,
            detail: e.to_string(),
        }
    }
}

/// Whether an OS error says the channel or ring is not there: missing, or a
/// path through something that is not a directory (a regular file named as
/// the channel).
fn not_there(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound || e.raw_os_error() == Some(libc::ENOTDIR)
}

fn ring_error_code(e: &sairing_ring::Error) -> c_int {
    use sairing_ring::Error as R;
    match e {
        R::Io { source, .. } if not_there(source) => SAIRING_ERR_NOT_FOUND,
        R::Corrupt { .. } => SAIRING_ERR_CORRUPT,
        R::RoleHeld { .. } | R::AlreadyExists { .. } => SAIRING_ERR_BUSY,
        R::BadCapacity { .. } => SAIRING_ERR_INVALID,
        R::Removed { .. } => SAIRING_ERR_NOT_FOUND,
        R::Symlink { .. } | R::NotRegular { .. } | R::ForeignOwner { .. } => SAIRING_ERR_REFUSED,
        _ => SAIRING_ERR_IO,
    }
}

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

fn set_last_error(detail: &str) {
    let c = CString::new(detail.replace('\0', "\\0")).unwrap_or_default();
    // While the thread exits (a pthread key destructor calling in) the
    // thread-local is gone: the detail is dropped, the code still returned.
    let _ = LAST_ERROR.try_with(|l| *l.borrow_mut() = c);
}

/// Runs one entry point: its error becomes a code (and this thread's last
/// error), and a panic is caught before it can cross into C.
pub(crate) fn call(f: impl FnOnce() -> Result<c_int, Fail>) -> c_int {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(code)) => code,
        Ok(Err(fail)) => {
            set_last_error(&fail.detail);
            fail.code
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            set_last_error(&format!(
                "sairing bug (panic caught at the C boundary): {what}"
            ));
            SAIRING_ERR_PANIC
        }
    }
}

/// The `n` items at `ptr` (a caller's array or string) as a slice, or an error
/// naming `what` when the pointer is NULL or misaligned with a count, or when
/// the count is more than any memory holds: `slice::from_raw_parts` requires
/// an aligned pointer and at most `isize::MAX` bytes, and would abort the
/// process otherwise.
///
/// # Safety
/// `ptr` points at `n` readable items (or `n` is 0) that stay unchanged for
/// the lifetime the caller picks.
pub(crate) unsafe fn c_array<'a, T>(ptr: *const T, n: usize, what: &str) -> Result<&'a [T], Fail> {
    if n == 0 {
        return Ok(&[]);
    }
    check_array(ptr, n, what)?;
    // SAFETY: non-NULL and at most `isize::MAX` bytes (checked above); `n`
    // readable items by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, n) })
}

/// [`c_array`]'s checks, for a caller's array or string of `n > 0` items.
fn check_array<T>(ptr: *const T, n: usize, what: &str) -> Result<(), Fail> {
    if ptr.is_null() {
        return Err(Fail::invalid(format!("{what} is NULL with length {n}")));
    }
    if !ptr.is_aligned() {
        return Err(Fail::invalid(format!("{what} is misaligned ({ptr:p})")));
    }
    match n.checked_mul(std::mem::size_of::<T>()) {
        Some(bytes) if bytes <= isize::MAX as usize => Ok(()),
        _ => Err(Fail::invalid(format!(
            "{what}: length {n} is more than any memory holds"
        ))),
    }
}

/// `s` as a Rust string, for the length of the call.
///
/// # Safety
/// `s.ptr` points at `s.len` readable bytes (or is NULL with `len` 0) that stay
/// unchanged for the lifetime the caller picks.
pub(crate) unsafe fn text<'a>(s: SairingStr, what: &str) -> Result<&'a str, Fail> {
    // SAFETY: by the caller's contract, `len` readable bytes at `ptr`.
    let bytes = unsafe { c_array(s.ptr.cast::<u8>(), s.len, what)? };
    // ASCII checked first: the whole cost of a batch's strings.
    sairing_transport::codec::text(bytes)
        .map_err(|e| Fail::invalid(format!("{what}: not UTF-8: {e}")))
}

/// A NUL-terminated path.
///
/// # Safety
/// `p` is NULL or points at a NUL-terminated string.
pub(crate) unsafe fn path(p: *const c_char) -> Result<PathBuf, Fail> {
    if p.is_null() {
        return Err(Fail::invalid("path is NULL"));
    }
    // SAFETY: non-NULL and NUL-terminated by the caller's contract.
    let c = unsafe { CStr::from_ptr(p) };
    let s = c
        .to_str()
        .map_err(|e| Fail::invalid(format!("path is not UTF-8: {e}")))?;
    Ok(PathBuf::from(s))
}

/// A timeout in milliseconds as the C API takes it: negative means the
/// handle's configured timeout (`None`).
pub(crate) fn timeout(ms: i64) -> Option<Duration> {
    u64::try_from(ms).ok().map(Duration::from_millis)
}

/// `&mut *p`, or an error naming the handle when it is NULL.
///
/// # Safety
/// `p` is NULL or a handle this library returned and has not closed.
pub(crate) unsafe fn handle<'a, T>(p: *mut T, what: &str) -> Result<&'a mut T, Fail> {
    // SAFETY: by the caller's contract, a live handle or NULL.
    unsafe { p.as_mut() }.ok_or_else(|| Fail::invalid(format!("{what} handle is NULL")))
}

/// Runs `open` and stores the new handle in `*out` (which must not be NULL).
///
/// # Safety
/// `out` is NULL or writable.
pub(crate) unsafe fn open_into<T>(
    out: *mut *mut T,
    open: impl FnOnce() -> Result<T, Fail>,
) -> Result<c_int, Fail> {
    if out.is_null() {
        return Err(Fail::invalid("out is NULL"));
    }
    let h = Box::new(open()?);
    // SAFETY: non-NULL and writable by the caller's contract.
    unsafe { out.write(Box::into_raw(h)) };
    Ok(SAIRING_OK)
}

/// Frees a handle made by [`open_into`]; NULL is ignored, and a panic while
/// dropping it is caught.
///
/// # Safety
/// `p` is NULL or a live handle of type `T` that is not used afterwards.
pub(crate) unsafe fn close<T>(p: *mut T) {
    if !p.is_null() {
        let _ = call(|| {
            // SAFETY: a live handle from `open_into`, not used again (the
            // caller's contract).
            drop(unsafe { Box::from_raw(p) });
            Ok(SAIRING_OK)
        });
    }
}

/// A side's waiting as the options structs give it: 0 means the default,
/// `UINT64_MAX` microseconds of spinning means never sleep.
pub(crate) fn wait_policy(spin_us: u64, timeout_ms: u64, nonblocking: bool) -> WaitPolicy {
    let d = WaitPolicy::default();
    let spin = match spin_us {
        0 => d.spin,
        u64::MAX => Duration::MAX,
        us => Duration::from_micros(us),
    };
    WaitPolicy {
        spin,
        // Grows while traffic flows, as the default does (from a longer
        // start, not beyond it).
        spin_max: d.spin_max.max(spin),
        timeout: match timeout_ms {
            0 => d.timeout,
            ms => Duration::from_millis(ms),
        },
        nonblocking,
    }
}

/// Writes `v` to `out` when `out` is not NULL.
///
/// # Safety
/// `out` is NULL or valid for a write of `T`.
pub(crate) unsafe fn put<T>(out: *mut T, v: T) {
    if !out.is_null() {
        // SAFETY: non-NULL and writable by the caller's contract.
        unsafe { out.write(v) }
    }
}

/// How a handle's sleeps inside the library have ended (an event loop's own
/// waits are not counted): on a healthy connected channel they end because the
/// peer rang, or at the caller's deadline with nothing to do.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct SairingWaitStats {
    /// Woken by the peer's doorbell.
    pub rung: u64,
    /// Ended by the 20 ms poll taken only while no peer is connected.
    pub polled: u64,
    /// Ended by the deadline, nothing rung.
    pub timed_out: u64,
    /// Woken by another descriptor (a client connecting, a handshake).
    pub other: u64,
    /// The peer's connection hung up.
    pub hung_up: u64,
}

/// Writes `w` to `*out` for `sairing_{client,server}_wait_stats`.
///
/// # Safety
/// `out` is NULL or writable.
pub(crate) unsafe fn put_wait_stats(
    out: *mut SairingWaitStats,
    w: sairing_transport::WaitStats,
) -> Result<c_int, Fail> {
    if out.is_null() {
        return Err(Fail::invalid("out is NULL"));
    }
    // SAFETY: non-NULL, and writable by the caller's contract.
    unsafe { put(out, SairingWaitStats::from(w)) };
    Ok(SAIRING_OK)
}

impl From<sairing_transport::WaitStats> for SairingWaitStats {
    fn from(w: sairing_transport::WaitStats) -> Self {
        SairingWaitStats {
            rung: w.rung,
            polled: w.polled,
            timed_out: w.timed_out,
            other: w.other,
            hung_up: w.hung_up,
        }
    }
}

/// A caller's string as the encoder reads it, in place: its bytes are
/// checked as UTF-8 while they are copied into the ring (no pass of their
/// own), and a request with one that is not is refused, unsent. Only made by
/// [`CText::of`] and [`CAttr::list`], which check the pointer.
#[repr(transparent)]
pub(crate) struct CText<'a> {
    s: SairingStr,
    _bytes: PhantomData<&'a [u8]>,
}

impl<'a> CText<'a> {
    /// `s`, or an error naming `what` when its pointer is NULL with a length.
    ///
    /// # Safety
    /// `s.len` bytes at `s.ptr` stay readable and unchanged for `'a`.
    #[inline]
    pub(crate) unsafe fn of(s: &'a SairingStr, what: &str) -> Result<&'a CText<'a>, Fail> {
        if s.len != 0 {
            check_array(s.ptr.cast::<u8>(), s.len, what)?;
        }
        // SAFETY: the pointer and length were checked above; the bytes by the
        // caller's contract.
        Ok(unsafe { CText::of_again(s) })
    }

    /// [`CText::of`] again, without its check.
    ///
    /// # Safety
    /// As for [`CText::of`], which returned `Ok` for `s`.
    #[inline]
    pub(crate) unsafe fn of_again<'r>(s: &'r SairingStr) -> &'r CText<'a> {
        // SAFETY: `CText` is a transparent `SairingStr` (the marker is a
        // ZST); the check `of` made and the bytes' lifetime are the caller's
        // to vouch for.
        unsafe { &*(s as *const SairingStr).cast::<CText<'a>>() }
    }
}

impl Text for CText<'_> {
    const CHECKED: bool = false;
    #[inline(always)]
    fn text_bytes(&self) -> &[u8] {
        if self.s.len == 0 {
            return &[];
        }
        // SAFETY: non-NULL and at most `isize::MAX` bytes (checked when
        // made), `len` bytes readable and unchanged for the marker's
        // lifetime, by the contract of `CText::of` or `CAttr::list`.
        unsafe { std::slice::from_raw_parts(self.s.ptr.cast::<u8>(), self.s.len) }
    }
    #[inline(always)]
    fn text_len(&self) -> usize {
        // The caller's word, not a slice of it: a length that no ring takes
        // is refused before any of its bytes is read.
        self.s.len
    }
}

/// A caller's attribute, encoded in place ([`CText`]).
#[repr(transparent)]
pub(crate) struct CAttr<'a> {
    a: SairingAttr,
    _bytes: PhantomData<&'a [u8]>,
}

impl<'a> CAttr<'a> {
    /// The `n` attributes at `attrs`, or an error when the array or one of
    /// its strings is NULL with a length.
    ///
    /// # Safety
    /// `attrs` points at `n` attributes (or is NULL with `n` 0) which, with
    /// their strings' bytes, stay readable and unchanged for `'a`.
    #[inline]
    pub(crate) unsafe fn list(
        attrs: *const SairingAttr,
        n: usize,
    ) -> Result<&'a [CAttr<'a>], Fail> {
        // SAFETY: `n` attributes at `attrs`, by the caller's contract.
        let list = unsafe { c_array(attrs, n, "attrs")? };
        for a in list {
            // SAFETY: the strings' bytes, by the caller's contract.
            unsafe {
                CText::of(&a.name, "attribute name")?;
                CText::of(&a.value, "attribute value")?;
            }
        }
        // SAFETY: every string's pointer was checked above; the rest by the
        // caller's contract.
        Ok(unsafe { CAttr::list_again(attrs, n) })
    }

    /// [`CAttr::list`] again, without its checks.
    ///
    /// # Safety
    /// As for [`CAttr::list`], which returned `Ok` for the same arguments.
    #[inline]
    pub(crate) unsafe fn list_again(attrs: *const SairingAttr, n: usize) -> &'a [CAttr<'a>] {
        if n == 0 {
            return &[];
        }
        // SAFETY: `CAttr` is a transparent `SairingAttr`; `n` of them at
        // `attrs`, checked by `list`, by the caller's contract.
        unsafe { std::slice::from_raw_parts(attrs.cast::<CAttr<'a>>(), n) }
    }

    /// One of this attribute's strings.
    ///
    /// # Safety
    /// `s` is `self.a.name` or `self.a.value` of a `CAttr`.
    unsafe fn text(s: &SairingStr) -> &CText<'a> {
        // SAFETY: one of a `CAttr`'s strings, checked by `CAttr::list` (the
        // only maker of a `CAttr`) for the same lifetime.
        unsafe { CText::of_again(s) }
    }
}

impl<'a> Attr for CAttr<'a> {
    type Text = CText<'a>;
    #[inline(always)]
    fn name(&self) -> &CText<'a> {
        // SAFETY: this `CAttr`'s own name.
        unsafe { CAttr::text(&self.a.name) }
    }
    #[inline(always)]
    fn value(&self) -> &CText<'a> {
        // SAFETY: this `CAttr`'s own value.
        unsafe { CAttr::text(&self.a.value) }
    }
}

/// A string view that is not tied to a lifetime: for the encoder's argument
/// lists that a handle keeps (and clears) between calls. Built only from text
/// checked as UTF-8, and used only during the call that built it.
#[derive(Clone, Copy)]
pub(crate) struct Utf8 {
    ptr: *const u8,
    len: usize,
}

impl Utf8 {
    pub(crate) fn of(s: &str) -> Utf8 {
        Utf8 {
            ptr: s.as_ptr(),
            len: s.len(),
        }
    }
}

impl AsRef<str> for Utf8 {
    fn as_ref(&self) -> &str {
        // SAFETY: built by `Utf8::of` from a `&str` (so valid UTF-8), whose
        // memory (the caller's arguments) lives for the whole call in which
        // this view is used; handles clear their lists before returning.
        unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(self.ptr, self.len)) }
    }
}

/// Checks `n` attributes at `attrs` and appends them to `out`.
///
/// # Safety
/// `attrs` points at `n` attributes (or is NULL with `n` 0) whose strings stay
/// valid for the call.
pub(crate) unsafe fn attr_list(
    attrs: *const SairingAttr,
    n: usize,
    out: &mut Vec<(Utf8, Utf8)>,
) -> Result<(), Fail> {
    // SAFETY: `n` attributes at `attrs`, by the caller's contract.
    let list = unsafe { c_array(attrs, n, "attrs")? };
    out.reserve(n);
    for a in list {
        // SAFETY: each string is valid for the call, by the caller's contract.
        let (name, value) = unsafe {
            (
                text(a.name, "attribute name")?,
                text(a.value, "attribute value")?,
            )
        };
        out.push((Utf8::of(name), Utf8::of(value)));
    }
    Ok(())
}

/// The op byte, checked: a request op, bulk exactly when `bulk` says.
pub(crate) fn op(b: u8, bulk: bool) -> Result<sairing_transport::Op, Fail> {
    match sairing_transport::Op::from_u8(b) {
        Some(o) if o != sairing_transport::Op::Notification && o.is_bulk() == bulk => Ok(o),
        Some(o) if o != sairing_transport::Op::Notification => Err(Fail::invalid(format!(
            "op {} is {}bulk: use sairing_client_{}",
            o.name(),
            if o.is_bulk() { "" } else { "not " },
            if o.is_bulk() {
                "send_bulk or call_bulk"
            } else {
                "send or call"
            }
        ))),
        _ => Err(Fail::invalid(format!("no request op {b}"))),
    }
}

/// The ABI version this library implements (equal to the header's
/// `SAIRING_ABI_VERSION` when both come from the same release).
#[no_mangle]
pub extern "C" fn sairing_abi_version() -> u32 {
    ABI_VERSION
}

/// The library's version, e.g. `"0.1.0"` (static, never freed).
#[no_mangle]
pub extern "C" fn sairing_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// What a return code means, in a few words (static, never freed).
#[no_mangle]
pub extern "C" fn sairing_strerror(code: c_int) -> *const c_char {
    let s: &'static str = match code {
        SAIRING_OK => "success\0",
        SAIRING_SENT => "sent; the answer comes later\0",
        SAIRING_EMPTY => "nothing arrived within the timeout\0",
        SAIRING_ERR_INVALID => "invalid argument\0",
        SAIRING_ERR_FULL => "ring full (backpressure)\0",
        SAIRING_ERR_TIMEOUT => "timed out waiting for the answer\0",
        SAIRING_ERR_TOO_LARGE => "message too large for the ring\0",
        SAIRING_ERR_REFUSED => "refused\0",
        SAIRING_ERR_CORRUPT => "ring damaged\0",
        SAIRING_ERR_DECODE => "a record did not decode (skipped)\0",
        SAIRING_ERR_BUSY => "held by another live process\0",
        SAIRING_ERR_NOT_FOUND => "no such channel or ring\0",
        SAIRING_ERR_IO => "operating-system error\0",
        SAIRING_ERR_PANIC => "internal error in sairing\0",
        _ => "unknown code\0",
    };
    s.as_ptr().cast()
}

/// The detail of the last error returned on this thread (which file, what was
/// wrong), NUL-terminated; valid until the next failing call on this thread.
/// Empty when no call has failed here.
#[no_mangle]
pub extern "C" fn sairing_last_error() -> *const c_char {
    LAST_ERROR
        .try_with(|l| l.borrow().as_ptr())
        .unwrap_or(c"".as_ptr())
}
