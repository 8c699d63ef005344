//! Answers leave a C server in request order even when a record in the
//! middle does not decode (found in review: the server answered the damaged
//! record inside `recv`, before the requests read ahead of it were answered,
//! and the client, which takes an answer older than one it already has for a
//! repeat, dropped theirs and waited out its timeout).

use std::os::unix::fs::FileExt;
use std::time::Duration;

use sairing::server::*;
use sairing::*;
use sairing_transport::{channel, Body, Client, ClientOptions, Mode};

fn s(text: &str) -> SairingStr {
    SairingStr {
        ptr: text.as_ptr().cast(),
        len: text.len(),
    }
}

/// Where `needle` first lies in the file at `path`.
fn offset_of(path: &std::path::Path, needle: &[u8]) -> u64 {
    let bytes = std::fs::read(path).expect("the ring file");
    bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the request is in the ring") as u64
}

#[test]
fn a_damaged_request_is_answered_in_its_turn() {
    let tmp = tempfile::tempdir().expect("a scratch directory");
    let dir = tmp.path().join("asic");
    channel::create(&dir, &Default::default()).expect("a channel");
    let mut client = Client::open(
        &dir,
        &ClientOptions {
            mode: Mode::Pipelined,
            ..Default::default()
        },
    )
    .expect("a client");
    let none: [(&str, &str); 0] = [];
    let keys = [
        "SAI_OBJECT_TYPE_PORT:oid:0x1000000000001",
        "SAI_OBJECT_TYPE_PORT:oid:0x1000000000002",
        "SAI_OBJECT_TYPE_PORT:oid:0x1000000000003",
    ];
    let seqs: Vec<u64> = keys
        .iter()
        .map(|k| {
            client
                .send(sairing_transport::Op::Get, k, &Body::Attrs(&none))
                .expect("sent")
        })
        .collect();
    // The second request's key is no longer UTF-8: it cannot decode.
    let ring = channel::Paths::new(&dir).request;
    let at = offset_of(&ring, keys[1].as_bytes());
    let f = std::fs::OpenOptions::new().write(true).open(&ring).unwrap();
    f.write_all_at(&[0xFF], at).unwrap();

    let d = std::ffi::CString::new(dir.to_str().unwrap()).unwrap();
    let mut srv: *mut SairingServer = std::ptr::null_mut();
    // SAFETY: a NUL-terminated path, default options, a writable handle slot.
    let rc = unsafe { sairing_server_open(d.as_ptr(), std::ptr::null(), &mut srv) };
    assert_eq!(rc, SAIRING_OK);
    let (rc, first) = recv(srv);
    assert_eq!(rc, SAIRING_OK);
    assert_eq!(recv(srv).0, SAIRING_ERR_DECODE, "the damaged request");
    let (rc, third) = recv(srv);
    assert_eq!(rc, SAIRING_OK);
    for t in [first, third] {
        assert_eq!(respond(srv, t), SAIRING_OK);
    }
    let t = Some(Duration::from_secs(10));
    let statuses: Vec<String> = seqs
        .iter()
        .map(|&seq| match client.wait_for(seq, t) {
            Ok(r) => r.status.to_string(),
            Err(e) => format!("no answer: {e}"),
        })
        .collect();
    assert_eq!(
        statuses,
        [
            "SAI_STATUS_SUCCESS",
            "SAI_STATUS_FAILURE",
            "SAI_STATUS_SUCCESS"
        ]
    );
    // SAFETY: a live server, not used again.
    unsafe { sairing_server_close(srv) };
}

/// The next request's return code and ticket.
fn recv(srv: *mut SairingServer) -> (i32, SairingTicket) {
    let mut q = std::mem::MaybeUninit::<SairingRequest>::zeroed();
    // SAFETY: a live server and a writable request.
    let rc = unsafe { sairing_server_recv(srv, 5000, q.as_mut_ptr()) };
    // SAFETY: zeroed is a valid SairingRequest (null pointers, zero counts).
    (rc, unsafe { q.assume_init() }.ticket)
}

/// Answers `t` with success.
fn respond(srv: *mut SairingServer, t: SairingTicket) -> i32 {
    let ok = s("SAI_STATUS_SUCCESS");
    // SAFETY: a live server, a valid ticket and string, no arrays.
    unsafe { sairing_server_respond(srv, &t, ok, std::ptr::null(), 0, std::ptr::null(), 0) }
}
