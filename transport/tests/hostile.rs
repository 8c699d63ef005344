//! A hostile peer: a second process (here, a second mapping of the same file)
//! that writes into the rings. What the server hands out cannot change under
//! it, and nothing it does crashes or hangs the other side.

use std::os::unix::fs::FileExt;
use std::path::Path;
use std::time::Duration;

use sairing_transport::{channel, Body, Client, ClientOptions, Op, Server, ServerOptions};

const T: Duration = Duration::from_secs(60);

/// Every offset of `needle` in the file.
fn find_all(path: &Path, needle: &[u8]) -> Vec<u64> {
    let bytes = std::fs::read(path).unwrap();
    bytes
        .windows(needle.len())
        .enumerate()
        .filter(|(_, w)| *w == needle)
        .map(|(i, _)| i as u64)
        .collect()
}

/// Decode a request, then rewrite its key through a second mapping with bytes
/// that are not UTF-8: the decoded key stays the same valid string. (Found:
/// the key was a `&str` into the ring; iterating its chars after the rewrite
/// read past the end and syncd died with SIGSEGV.)
#[test]
fn a_decoded_request_is_not_changed_by_a_later_rewrite() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ch");
    channel::create(&dir, &channel::ChannelOptions::default()).unwrap();
    let mut server = Server::open(&dir, &ServerOptions::default()).unwrap();
    let key = "SAI_OBJECT_TYPE_VLAN:oid:0x26000000000aaa";
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let d2 = dir.clone();
    let client = std::thread::spawn(move || {
        let mut c = Client::open(&d2, &ClientOptions::default()).unwrap();
        let attrs = [("SAI_VLAN_ATTR_VLAN_ID", "2730")];
        c.send(Op::Create, key, &Body::Attrs(&attrs)).unwrap();
        // Stay attached until the server is done looking.
        let _ = done_rx.recv_timeout(T);
    });
    let ring = channel::Paths::new(&dir).request;
    let req = server.recv(Some(T)).unwrap().expect("the request");
    assert_eq!(req.request.key, key);
    let at = find_all(&ring, key.as_bytes());
    assert_eq!(at.len(), 1, "the key is in the ring file once");
    let f = std::fs::OpenOptions::new().write(true).open(&ring).unwrap();
    f.write_all_at(&[0xFF; 20], at[0] + 10).unwrap();
    assert!(
        find_all(&ring, key.as_bytes()).is_empty(),
        "the rewrite took"
    );
    assert_eq!(req.request.key.chars().count(), key.len());
    assert_eq!(req.request.key, key);
    assert_eq!(
        req.request.attrs.clone().collect::<Vec<_>>(),
        vec![("SAI_VLAN_ATTR_VLAN_ID", "2730")]
    );
    done_tx.send(()).unwrap();
    client.join().unwrap();
}
