//! Lengths and counts a C caller gets wrong are refused with a code, never a
//! panic or an abort (found in review: a length past `isize::MAX` aborted the
//! process in `slice::from_raw_parts`, and a batch whose lengths summed past
//! `usize::MAX` panicked in the encoder's length arithmetic, reported as
//! `SAIRING_ERR_PANIC` with `*sent` 0 although its first request had gone).
//!
//! The huge lengths point at a few real bytes: the library must refuse them
//! before it reads any.

use std::ffi::CString;
use std::ptr::{null, null_mut};
use std::time::Duration;

use sairing::client::*;
use sairing::ring::*;
use sairing::server::*;
use sairing::*;
use sairing_transport::{channel, Server};

const KEY: &str = "SAI_OBJECT_TYPE_PORT:oid:0x1000000000001";

fn s(text: &str) -> SairingStr {
    SairingStr {
        ptr: text.as_ptr().cast(),
        len: text.len(),
    }
}

/// A string that claims `len` bytes at a real (short) one.
fn huge(len: usize) -> SairingStr {
    SairingStr {
        ptr: KEY.as_ptr().cast(),
        len,
    }
}

fn scratch_channel() -> (tempfile::TempDir, std::path::PathBuf, CString) {
    let tmp = tempfile::tempdir().expect("a scratch directory");
    let dir = tmp.path().join("asic");
    channel::create(&dir, &Default::default()).expect("a channel");
    let c = CString::new(dir.to_str().unwrap()).unwrap();
    (tmp, dir, c)
}

fn open_client(dir: &CString) -> *mut SairingClient {
    let opts = SairingClientOptions {
        mode: 2, // pipelined: nothing waits for an answer
        spin_us: 0,
        timeout_ms: 0,
        nonblocking: true,
    };
    let mut c = null_mut();
    // SAFETY: a NUL-terminated path, valid options, a writable handle slot.
    let rc = unsafe { sairing_client_open(dir.as_ptr(), &opts, &mut c) };
    assert_eq!(rc, SAIRING_OK, "open: {}", last_error());
    c
}

fn last_error() -> String {
    // SAFETY: the library's thread-local, NUL-terminated message.
    unsafe { std::ffi::CStr::from_ptr(sairing_last_error()) }
        .to_string_lossy()
        .into_owned()
}

/// The keys of the requests in the channel now, read by a Rust server.
fn keys_in(dir: &std::path::Path) -> Vec<String> {
    let mut server = Server::open(dir, &Default::default()).expect("a server");
    let mut keys = Vec::new();
    while let Some(mut q) = server
        .recv(Some(Duration::from_millis(200)))
        .expect("a request decodes")
    {
        keys.push(q.request.key.to_string());
        q.respond_status("SAI_STATUS_SUCCESS").expect("answered");
    }
    keys
}

#[test]
fn a_batch_whose_lengths_overflow_is_too_large_and_keeps_what_went() {
    let (_tmp, dir, cdir) = scratch_channel();
    let c = open_client(&cdir);
    let half = isize::MAX as usize;
    let bad = [SairingAttr {
        name: huge(half),
        value: huge(half),
    }];
    let calls = [
        SairingCall {
            op: SAIRING_OP_CREATE,
            key: s(KEY),
            attrs: null(),
            attr_count: 0,
        },
        SairingCall {
            op: SAIRING_OP_CREATE,
            key: huge(half),
            attrs: bad.as_ptr(),
            attr_count: 1,
        },
    ];
    let (mut first, mut sent) = (0u64, 99usize);
    // SAFETY: a live client; the arrays outlive the call (the huge strings
    // are the point of the test: the library must not read them).
    let rc = unsafe { sairing_client_send_batch(c, calls.as_ptr(), 2, &mut first, &mut sent) };
    assert_eq!(rc, SAIRING_ERR_TOO_LARGE, "{}", last_error());
    assert_eq!((first, sent), (1, 1), "the first request went");
    // SAFETY: a live client, not used again.
    unsafe { sairing_client_close(c) };
    assert_eq!(
        keys_in(&dir),
        [KEY],
        "exactly the first request is in the ring"
    );
}

#[test]
fn a_length_no_memory_can_hold_is_refused() {
    let (_tmp, dir, cdir) = scratch_channel();
    let c = open_client(&cdir);
    let never = huge(usize::MAX);
    let one = [SairingAttr {
        name: s("A"),
        value: never,
    }];
    let mut seq = 0u64;
    let mut sent = 0usize;
    // SAFETY: every call below is on a live client or server; the arrays and
    // strings point at real memory, and their lengths and counts lie.
    unsafe {
        let rc = sairing_client_send(c, SAIRING_OP_CREATE, never, null(), 0, &mut seq);
        assert_eq!(rc, SAIRING_ERR_INVALID, "a key: {}", last_error());
        let rc = sairing_client_send(c, SAIRING_OP_CREATE, s(KEY), one.as_ptr(), 1, &mut seq);
        assert_eq!(rc, SAIRING_ERR_INVALID, "a value: {}", last_error());
        let rc = sairing_client_send(
            c,
            SAIRING_OP_CREATE,
            s(KEY),
            one.as_ptr(),
            usize::MAX,
            &mut seq,
        );
        assert_eq!(
            rc,
            SAIRING_ERR_INVALID,
            "an attribute count: {}",
            last_error()
        );
        let call = SairingCall {
            op: SAIRING_OP_CREATE,
            key: s(KEY),
            attrs: null(),
            attr_count: 0,
        };
        let rc = sairing_client_send_batch(c, &call, usize::MAX / 2, &mut seq, &mut sent);
        assert_eq!(rc, SAIRING_ERR_INVALID, "a batch's count: {}", last_error());
        assert_eq!(sent, 0);
        let obj = SairingObject {
            id: s("oid:0x1"),
            attrs: null(),
            attr_count: 0,
        };
        let rc = sairing_client_send_bulk(
            c,
            SAIRING_OP_BULK_CREATE,
            s("SAI_OBJECT_TYPE_ROUTE_ENTRY"),
            &obj,
            usize::MAX / 4,
            &mut seq,
        );
        assert_eq!(rc, SAIRING_ERR_INVALID, "a bulk count: {}", last_error());

        // The server's strings: one request to answer, with a status that lies.
        let rc = sairing_client_send(c, SAIRING_OP_GET, s(KEY), null(), 0, &mut seq);
        assert_eq!(rc, SAIRING_OK, "{}", last_error());
        assert_eq!(seq, 1, "no refused request took a sequence number");
        let mut srv = null_mut();
        assert_eq!(
            sairing_server_open(cdir.as_ptr(), null(), &mut srv),
            SAIRING_OK
        );
        let mut q = std::mem::MaybeUninit::<SairingRequest>::zeroed();
        assert_eq!(sairing_server_recv(srv, 5000, q.as_mut_ptr()), SAIRING_OK);
        let t = q.assume_init().ticket;
        let rc = sairing_server_respond(srv, &t, never, null(), 0, null(), 0);
        assert_eq!(rc, SAIRING_ERR_INVALID, "a status: {}", last_error());
        let ok = s("SAI_STATUS_SUCCESS");
        let rc = sairing_server_respond(srv, &t, ok, null(), 0, &ok, usize::MAX);
        assert_eq!(rc, SAIRING_ERR_INVALID, "a status count: {}", last_error());
        assert_eq!(
            sairing_server_respond(srv, &t, ok, null(), 0, null(), 0),
            SAIRING_OK
        );
        let rc = sairing_server_notify(srv, s("port_state_change"), never);
        assert_eq!(rc, SAIRING_ERR_INVALID, "a payload: {}", last_error());
        sairing_server_close(srv);
        sairing_client_close(c);
    }

    // The bare ring's payload.
    let ring = CString::new(dir.join("bare").to_str().unwrap()).unwrap();
    // SAFETY: a NUL-terminated path; a live producer; real memory at `data`.
    unsafe {
        assert_eq!(sairing_ring_create(ring.as_ptr(), 1 << 16), SAIRING_OK);
        let mut p = null_mut();
        assert_eq!(sairing_producer_open(ring.as_ptr(), &mut p), SAIRING_OK);
        let rc = sairing_producer_push(p, 1, KEY.as_ptr().cast(), usize::MAX, &mut seq);
        assert_eq!(rc, SAIRING_ERR_INVALID, "a payload: {}", last_error());
        sairing_producer_close(p);
    }
}

/// An array that is not aligned for its type is refused, not read (it
/// aborted the process in `slice::from_raw_parts`'s checks).
#[test]
fn a_misaligned_array_is_refused() {
    let (_tmp, _dir, cdir) = scratch_channel();
    let c = open_client(&cdir);
    let attrs = [
        SairingAttr {
            name: s("A"),
            value: s("1"),
        },
        SairingAttr {
            name: s("B"),
            value: s("2"),
        },
    ];
    let off = attrs
        .as_ptr()
        .cast::<u8>()
        .wrapping_add(1)
        .cast::<SairingAttr>();
    let mut seq = 0u64;
    // SAFETY: a live client; the pointer is inside real memory, misaligned.
    let rc = unsafe { sairing_client_send(c, SAIRING_OP_CREATE, s(KEY), off, 1, &mut seq) };
    assert_eq!(rc, SAIRING_ERR_INVALID, "{}", last_error());
    assert!(last_error().contains("misaligned"), "{}", last_error());
    // SAFETY: a live client, not used again.
    unsafe { sairing_client_close(c) };
}
