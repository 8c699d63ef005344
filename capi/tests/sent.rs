//! A call whose request went says which request it was, whatever stops its
//! wait (found in review: only a timeout stored the sequence number, so a
//! caller whose wait met a refused connection could not tell that its request
//! was in the ring, and sent it again).

use std::ffi::CString;
use std::io::Write;
use std::ptr::{null, null_mut};

use sairing::client::*;
use sairing::*;
use sairing_transport::channel;

#[test]
fn a_wait_that_fails_still_names_the_request_that_went() {
    let tmp = tempfile::tempdir().expect("a scratch directory");
    let dir = tmp.path().join("asic");
    channel::create(&dir, &Default::default()).expect("a channel");
    // Not a server: it answers the client's hello with nonsense.
    let fake = std::os::unix::net::UnixListener::bind(channel::Paths::new(&dir).socket).unwrap();
    let cdir = CString::new(dir.to_str().unwrap()).unwrap();
    let opts = SairingClientOptions {
        mode: 0, // sync: the call waits for its answer
        spin_us: 0,
        timeout_ms: 5000,
        nonblocking: false,
    };
    let mut c = null_mut();
    // SAFETY: a NUL-terminated path, valid options, a writable handle slot.
    let rc = unsafe { sairing_client_open(cdir.as_ptr(), &opts, &mut c) };
    assert_eq!(rc, SAIRING_OK);
    // Opening connected (the kernel queued it); the hello's answer:
    let (mut conn, _) = fake.accept().unwrap();
    conn.write_all(b"not a welcome!!!").unwrap();

    let key = "SAI_OBJECT_TYPE_PORT:oid:0x1000000000001";
    let key = SairingStr {
        ptr: key.as_ptr().cast(),
        len: key.len(),
    };
    let mut out = std::mem::MaybeUninit::<SairingResponse>::zeroed();
    // SAFETY: a live client, a valid key, no attributes, a writable response.
    let rc = unsafe { sairing_client_call(c, SAIRING_OP_GET, key, null(), 0, out.as_mut_ptr()) };
    assert!(
        rc < 0 && rc != SAIRING_ERR_TIMEOUT,
        "the handshake's failure, got {rc}"
    );
    // SAFETY: zeroed is a valid response, and the call may have written one.
    let out = unsafe { out.assume_init() };
    assert_eq!(out.seq, 1, "the request that went");
    // SAFETY: a live client, not used again.
    unsafe { sairing_client_close(c) };
}
