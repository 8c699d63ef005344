//! The client's and the server's calls, one at a time, in one process (a
//! server and a client on one thread; neither waits for the other): what
//! each call gives back and what it leaves. The process tests (`channel.rs`)
//! and the hostile ones (`hostile.rs`) cover restarts and bad input.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod common;
use common::{
    client_options, connected, fresh_channel, server_options, test_wait, within, WAIT_WITHIN,
};

use sairing_transport::{channel, Client, Mode, Notification, Op, Outcome, Server};

const PORT: &str = "SAI_OBJECT_TYPE_PORT:oid:0x1000000000001";
const SUCCESS: &str = "SAI_STATUS_SUCCESS";
const FAILURE: &str = "SAI_STATUS_FAILURE";

/// A new channel, its server and its client, connected.
fn pair() -> (tempfile::TempDir, Server, Client) {
    let (tmp, dir) = fresh_channel(false);
    let (server, client) = open(&dir);
    (tmp, server, client)
}

fn open(dir: &Path) -> (Server, Client) {
    connected(dir, test_wait())
}

/// Answers every request waiting with `status`; returns how many.
fn answer_all(server: &mut Server, status: &str) -> usize {
    let mut n = 0;
    while let Some(mut req) = server.recv(Some(Duration::ZERO)).unwrap() {
        req.respond_status(status).unwrap();
        n += 1;
    }
    n
}

fn set_mtu(client: &mut Client) -> Outcome {
    client.set(PORT, "SAI_PORT_ATTR_MTU", "9100").unwrap()
}

/// Sends a pipelined set and takes it off the ring, unanswered: its
/// sequence number and the ticket to answer it with.
fn a_request_taken(server: &mut Server, client: &mut Client) -> (u64, sairing_transport::Ticket) {
    client.set_mode(Mode::Pipelined);
    let Outcome::Sent(seq) = set_mtu(client) else {
        panic!("a pipelined set waited")
    };
    let ticket = server.recv(Some(Duration::ZERO)).unwrap().unwrap().ticket();
    (seq, ticket)
}

/// Answers `ticket` with a bare `status` (again, if it was answered).
fn answer(server: &mut Server, ticket: sairing_transport::Ticket, status: &str) {
    let none: [(&str, &str); 0] = [];
    let no_statuses: [&str; 0] = [];
    server
        .respond_to(ticket, status, &none, &no_statuses)
        .unwrap();
}

/// The sequence numbers a client gives out: `next_request_seq` and
/// `next_seq` name the next one, and each send takes it.
#[test]
fn sequence_numbers_are_given_out_in_turn() {
    let (_tmp, mut server, mut client) = pair();
    client.set_mode(Mode::Pipelined);
    let first = client.next_request_seq();
    assert_eq!(client.next_seq(), first);
    assert_eq!(set_mtu(&mut client), Outcome::Sent(first));
    assert_eq!(set_mtu(&mut client), Outcome::Sent(first + 1));
    assert_eq!(client.next_request_seq(), first + 2);
    assert_eq!(client.next_seq(), first + 2);
    assert_eq!(server.next_seq(), first);
    assert_eq!(answer_all(&mut server, SUCCESS), 2);
    assert_eq!(server.next_seq(), first + 2);
    assert_eq!(client.counts(), (2, 0));
    client.wait_all(None).unwrap();
    assert_eq!(client.counts(), (2, 2));
}

/// The mode set is the mode in force, and says which calls wait.
#[test]
fn the_mode_set_is_the_mode_in_force() {
    let (_tmp, mut server, mut client) = pair();
    assert_eq!(client.mode(), Mode::Sync);
    for mode in [Mode::Async, Mode::Pipelined, Mode::Sync] {
        client.set_mode(mode);
        assert_eq!(client.mode(), mode);
    }
    client.set_mode(Mode::Async);
    let Outcome::Sent(seq) = set_mtu(&mut client) else {
        panic!("an async set waited")
    };
    answer_all(&mut server, SUCCESS);
    client.wait_all(None).unwrap();
    // An async call's success is not kept: nobody waits for it.
    assert!(client.take_failures().is_empty());
    assert!(client
        .next_completion(Some(Duration::ZERO))
        .unwrap()
        .is_none());
    assert_eq!(client.counts(), (1, 1), "seq {seq}");
}

/// A server that answers a request twice: the first answer is delivered, the
/// repeat is kept aside for `take_duplicates` (once), never delivered.
#[test]
fn a_repeated_answer_is_kept_aside_not_delivered() {
    let (_tmp, mut server, mut client) = pair();
    let (seq, ticket) = a_request_taken(&mut server, &mut client);
    answer(&mut server, ticket, SUCCESS);
    answer(&mut server, ticket, FAILURE);
    let r = client.next_completion(None).unwrap().expect("the answer");
    assert_eq!((r.seq, r.status.as_str()), (seq, SUCCESS));
    client.pump().unwrap(); // the repeat, unless read already
    assert!(client
        .next_completion(Some(Duration::ZERO))
        .unwrap()
        .is_none());
    assert_eq!(client.take_duplicates(), vec![(seq, FAILURE.to_owned())]);
    assert!(client.take_duplicates().is_empty(), "taken twice");
    assert_eq!(client.counts(), (1, 1));
}

/// Failed answers to async calls are kept, in order: taken all at once, or
/// one at a time.
#[test]
fn failed_async_answers_are_kept_in_order() {
    let (_tmp, mut server, mut client) = pair();
    client.set_mode(Mode::Async);
    let seqs: Vec<u64> = (0..3)
        .map(|_| match set_mtu(&mut client) {
            Outcome::Sent(s) => s,
            Outcome::Done(r) => panic!("an async set waited: {r:?}"),
        })
        .collect();
    answer_all(&mut server, FAILURE);
    client.wait_all(None).unwrap();
    assert_eq!(client.next_failure().map(|r| r.seq), Some(seqs[0]));
    let rest: Vec<u64> = client.take_failures().iter().map(|r| r.seq).collect();
    assert_eq!(rest, &seqs[1..]);
    assert!(client.next_failure().is_none());
    assert!(client.take_failures().is_empty());
}

/// Notifications are queued for `take_notifications` (in order, once), or
/// handed to the callback when one is set (and then not queued).
#[test]
fn notifications_are_queued_or_handed_to_the_callback() {
    let (_tmp, mut server, mut client) = pair();
    server.notify("port_state_change", "[1]").unwrap();
    server.notify("port_state_change", "[2]").unwrap();
    assert_eq!(client.pump().unwrap(), 2);
    let n: Vec<String> = client
        .take_notifications()
        .into_iter()
        .map(|n| n.payload)
        .collect();
    assert_eq!(n, ["[1]", "[2]"]);
    assert!(client.take_notifications().is_empty());

    let got: Arc<Mutex<Vec<Notification>>> = Arc::default();
    let sink = Arc::clone(&got);
    client.on_notification(move |n| sink.lock().unwrap().push(n));
    server.notify("switch_shutdown_request", "").unwrap();
    assert_eq!(client.pump().unwrap(), 1);
    assert!(client.take_notifications().is_empty(), "queued as well");
    let got = got.lock().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].name, "switch_shutdown_request");
}

/// `next_notification` waits for one (the queued ones first).
#[test]
fn next_notification_takes_the_queued_ones_first() {
    let (_tmp, mut server, mut client) = pair();
    server.notify("a", "1").unwrap();
    server.notify("b", "2").unwrap();
    let t = Duration::from_secs(5);
    assert_eq!(client.next_notification(t).unwrap().unwrap().name, "a");
    assert_eq!(client.next_notification(t).unwrap().unwrap().name, "b");
    assert!(client
        .next_notification(Duration::from_millis(1))
        .unwrap()
        .is_none());
}

/// Every call of the client sends the request its name says, and the calls
/// that always wait (get, notify) give the answer.
#[test]
fn each_call_sends_its_op() {
    let (_tmp, mut server, mut client) = pair();
    client.set_mode(Mode::Pipelined);
    let attrs = [("SAI_PORT_ATTR_MTU", "9100")];
    client.create(PORT, &attrs).unwrap();
    client.remove(PORT).unwrap();
    set_mtu(&mut client);
    let objects = [sairing_transport::BulkObject {
        id: "oid:0x1",
        attrs: &attrs[..],
    }];
    client
        .bulk(Op::BulkCreate, "SAI_OBJECT_TYPE_PORT", &objects)
        .unwrap();
    let mut ops = Vec::new();
    while let Some(mut req) = server.recv(Some(Duration::ZERO)).unwrap() {
        ops.push(req.request.op);
        req.respond_status(SUCCESS).unwrap();
    }
    assert_eq!(ops, [Op::Create, Op::Remove, Op::Set, Op::BulkCreate]);
    client.wait_all(None).unwrap();
    // get and notify wait whatever the mode: answered from another thread.
    let srv = std::thread::spawn(move || {
        let mut ops = Vec::new();
        while ops.len() < 2 {
            if let Some(mut req) = server.recv(Some(Duration::from_secs(15))).unwrap() {
                ops.push(req.request.op);
                req.respond::<&str, &str>(SUCCESS, &[("SAI_PORT_ATTR_MTU", "9100")], &[])
                    .unwrap();
            }
        }
        ops
    });
    let r = client.get(PORT, &[("SAI_PORT_ATTR_MTU", "0")]).unwrap();
    assert_eq!(
        r.attrs,
        [("SAI_PORT_ATTR_MTU".to_owned(), "9100".to_owned())]
    );
    assert!(client.notify_syncd("APPLY_VIEW").unwrap().is_success());
    assert_eq!(srv.join().unwrap(), [Op::Get, Op::Notify]);
}

/// The keys of the requests `recv` returns until nothing is there.
fn keys_waiting(server: &mut Server) -> Vec<String> {
    let mut keys = Vec::new();
    while let Some(req) = server.recv(Some(Duration::ZERO)).unwrap() {
        keys.push(req.request.key.to_owned());
    }
    keys
}

/// Releasing, seen through `rewind` (which starts again at the first
/// request not released): without auto-release nothing is released until
/// the server says, to a mark or all; with it, what was read is released
/// once nothing new is there.
#[test]
fn requests_are_released_as_the_server_says() {
    let (_tmp, mut server, mut client) = pair();
    client.set_mode(Mode::Pipelined);
    let port = |n: u32| format!("SAI_OBJECT_TYPE_PORT:oid:0x100000000000{n}");
    let send = |client: &mut Client, n: u32| {
        client.set(&port(n), "SAI_PORT_ATTR_MTU", "9100").unwrap();
    };
    assert!(server.auto_release());
    server.set_auto_release(false);
    assert!(!server.auto_release());
    send(&mut client, 1);
    assert_eq!(keys_waiting(&mut server), [port(1)]);
    let after_first = server.mark();
    send(&mut client, 2);
    assert_eq!(keys_waiting(&mut server), [port(2)]);
    server.rewind();
    assert_eq!(
        keys_waiting(&mut server),
        [port(1), port(2)],
        "released early"
    );
    assert!(server.release_to(after_first));
    server.rewind();
    assert_eq!(keys_waiting(&mut server), [port(2)]);
    server.release();
    assert!(
        !server.release_to(after_first),
        "a mark behind the released"
    );
    server.rewind();
    assert!(keys_waiting(&mut server).is_empty(), "release() left some");

    server.set_auto_release(true);
    send(&mut client, 3);
    assert_eq!(keys_waiting(&mut server), [port(3)]);
    server.rewind();
    assert!(
        keys_waiting(&mut server).is_empty(),
        "auto-release left some"
    );
}

/// The request ring's identity, as lowercase hex: the same for every server
/// of a channel, another for another channel.
#[test]
fn the_ring_id_names_the_channel() {
    let (tmp, server, _client) = pair();
    let id = server.ring_id_hex();
    assert_eq!(id.len(), 32, "{id}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "{id}"
    );
    drop(server);
    let again = Server::open(tmp.path().join("ch"), &server_options()).unwrap();
    assert_eq!(again.ring_id_hex(), id);
    let (_tmp2, other, _c2) = pair();
    assert_ne!(other.ring_id_hex(), id);
}

/// A server that answers in turn (`set_answer_undecodable(false)`) does not
/// answer a record that does not decode itself: it answers it with the
/// ticket `undecodable_ticket` gives, which names the record and the
/// client's incarnation. (The client here is played by hand: the request
/// ring written directly, the response ring read directly.)
#[test]
fn an_undecodable_record_is_answered_in_turn_with_its_ticket() {
    let (tmp, mut server, client) = pair();
    drop(client);
    let paths = channel::Paths::new(tmp.path().join("ch"));
    let mut tx = sairing_ring::Producer::open(&paths.request, &Default::default()).unwrap();
    let mut rx = sairing_ring::Consumer::open(&paths.response, &Default::default()).unwrap();
    // The server reads the client's epoch when it looks at its socket, as
    // it does when a client connects.
    server.service().unwrap();
    server.set_answer_undecodable(false);
    let seq = tx
        .push(sairing_transport::codec::KIND_REQUEST, b"not a request")
        .unwrap();
    let e = match server.recv(Some(Duration::from_secs(15))) {
        Err(sairing_transport::Error::Decode(e)) => e,
        Err(e) => panic!("another error: {e}"),
        Ok(r) => panic!("decoded: {:?}", r.map(|r| r.record_seq)),
    };
    assert_eq!(e.record_seq, seq);
    assert!(!rx.has_next().unwrap(), "answered at once");
    let ticket = server.undecodable_ticket(&e);
    assert_eq!((ticket.seq, ticket.epoch), (seq, tx.epoch() as u32));
    answer(&mut server, ticket, FAILURE);
    let rec = rx.read().unwrap().expect("the answer");
    let payload = rec.payload().to_vec();
    let v = sairing_transport::codec::decode_response(&payload, rec.seq()).unwrap();
    assert_eq!((v.seq, v.epoch, v.status), (seq, ticket.epoch, FAILURE));
}

/// Repeats are kept up to 16 MiB (8 bytes and the status's length each)
/// between two takes, so that a server cannot make a client hold an endless
/// amount: here 40 repeats of a 512 KiB status, of which the first 32 fill
/// the bound exactly and are kept.
#[test]
fn repeats_are_kept_up_to_16_mib() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ch");
    let opts = channel::ChannelOptions {
        capacity: 4 << 20,
        ..Default::default()
    };
    channel::create(&dir, &opts).unwrap();
    let (mut server, mut client) = open(&dir);
    let (seq, ticket) = a_request_taken(&mut server, &mut client);
    answer(&mut server, ticket, SUCCESS);
    let status = "S".repeat((512 << 10) - 8);
    for _ in 0..40 {
        answer(&mut server, ticket, &status);
        client.pump().unwrap();
    }
    let kept = client.take_duplicates();
    assert_eq!(kept.len(), 32);
    assert!(kept.iter().all(|(s, st)| *s == seq && *st == status));
    // Taken, the bound starts again.
    answer(&mut server, ticket, FAILURE);
    client.pump().unwrap();
    assert_eq!(client.take_duplicates(), vec![(seq, FAILURE.to_owned())]);
}

/// In async mode, an answer the caller waits for is kept even when nobody
/// would wait for its op (a set waited for by hand), and a get's answer read
/// before the caller waits for it is kept for that wait.
#[test]
fn async_answers_waited_for_are_kept() {
    let (_tmp, mut server, mut client) = pair();
    client.set_mode(Mode::Async);
    let Outcome::Sent(set) = set_mtu(&mut client) else {
        panic!("an async set waited")
    };
    answer_all(&mut server, SUCCESS);
    let r = client.wait_for(set, Some(Duration::from_secs(5))).unwrap();
    assert_eq!((r.seq, r.op), (set, Op::Set));
    let get = client
        .send(
            Op::Get,
            PORT,
            &sairing_transport::Body::Attrs(&[("SAI_PORT_ATTR_MTU", "0")]),
        )
        .unwrap();
    answer_all(&mut server, SUCCESS);
    client.pump().unwrap(); // read before anyone waits for it
    let r = client.wait_for(get, Some(Duration::from_secs(5))).unwrap();
    assert_eq!((r.seq, r.op), (get, Op::Get));
}

/// A notification read but not taken stays in the ring: a client that dies
/// before taking it leaves it to the next client.
#[test]
fn a_notification_not_taken_is_left_to_the_next_client() {
    let (tmp, mut server, mut client) = pair();
    server.notify("port_state_change", "[1]").unwrap();
    assert_eq!(client.pump().unwrap(), 1);
    drop(client);
    let mut next = Client::open(tmp.path().join("ch"), &client_options()).unwrap();
    next.pump().unwrap();
    let n = next.take_notifications();
    assert_eq!(n.len(), 1, "the notification was lost with the client");
    assert_eq!(n[0].payload, "[1]");
}

/// `Incoming::payload` is the request's record as encoded: decoded again it
/// is the same request (what a recorder keeps without decoding twice).
#[test]
fn an_incoming_payload_is_its_request_encoded() {
    let (_tmp, mut server, mut client) = pair();
    client.set_mode(Mode::Pipelined);
    set_mtu(&mut client);
    let req = server.recv(Some(Duration::ZERO)).unwrap().unwrap();
    let payload = req.payload().to_vec();
    let again = sairing_transport::codec::decode_request(&payload, req.record_seq).unwrap();
    assert_eq!(
        (again.op, again.key, again.seq),
        (Op::Set, PORT, req.request.seq)
    );
    assert_eq!(
        again.attrs.collect::<Vec<_>>(),
        req.request.attrs.clone().collect::<Vec<_>>()
    );
}

/// A notification a request causes, published while the request is held,
/// reaches the client before that request's answer.
#[test]
fn a_notification_from_a_request_comes_before_its_answer() {
    let (_tmp, mut server, mut client) = pair();
    client.set_mode(Mode::Pipelined);
    let Outcome::Sent(seq) = set_mtu(&mut client) else {
        panic!("a pipelined set waited")
    };
    let mut req = server.recv(Some(Duration::ZERO)).unwrap().unwrap();
    req.notify("port_state_change", "[7]").unwrap();
    req.respond_status(SUCCESS).unwrap();
    let r = client
        .next_completion(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(r.map(|r| r.seq), Some(seq));
    let n = client.take_notifications();
    assert_eq!(n.len(), 1);
    assert_eq!(
        (n[0].name.as_str(), n[0].payload.as_str()),
        ("port_state_change", "[7]")
    );
}

/// Auto-release releases while requests stream only every 64 of them:
/// between, a `rewind` starts again at the first request read.
#[test]
fn auto_release_waits_for_64_requests_or_an_idle_ring() {
    let (_tmp, mut server, mut client) = pair();
    client.set_mode(Mode::Pipelined);
    for _ in 0..3 {
        set_mtu(&mut client);
    }
    let first = server.next_seq();
    for _ in 0..2 {
        assert!(server.recv(Some(Duration::ZERO)).unwrap().is_some());
    }
    server.rewind();
    assert_eq!(server.next_seq(), first, "released while requests stream");
}

/// Every wait with a timeout ends when nothing comes, with the error (or
/// the nothing) that says so: a client waiting for answers the server never
/// gives, a call in sync mode waiting for its answer, a client whose policy
/// times out, and a server waiting for a request, sleeping or spinning.
#[test]
fn waits_with_a_timeout_end_when_nothing_comes() {
    use sairing_transport::{Error, WaitPolicy};
    let (tmp, mut server, client) = pair();
    let short = Duration::from_millis(100);
    let client = within(WAIT_WITHIN, "a client's wait_all", move || {
        let mut client = client;
        client.set_mode(Mode::Pipelined);
        set_mtu(&mut client);
        let r = client.wait_all(Some(short));
        assert!(matches!(r, Err(Error::Timeout { .. })), "{r:?}");
        client
    });
    let client = within(WAIT_WITHIN, "a call in sync mode", move || {
        let mut client = client;
        client.set_mode(Mode::Sync);
        for wait in [
            WaitPolicy {
                timeout: short,
                ..WaitPolicy::default()
            },
            WaitPolicy {
                timeout: short,
                ..WaitPolicy::busy_poll()
            },
        ] {
            client.set_wait_policy(wait);
            let r = client.set(PORT, "SAI_PORT_ATTR_MTU", "9100");
            // After the policy's timeout: the one just set.
            assert!(
                matches!(r, Err(Error::Timeout { after, .. }) if after == short),
                "{r:?}"
            );
        }
        client
    });
    // The requests sent are there; once taken, the server waits for more,
    // sleeping, then (a server of its own) spinning.
    while server.recv(Some(Duration::ZERO)).unwrap().is_some() {}
    let dir = tmp.path().join("ch");
    within(WAIT_WITHIN, "a server's recv", move || {
        assert!(server.recv(Some(short)).unwrap().is_none());
        drop(server);
        let opts = sairing_transport::ServerOptions {
            wait: WaitPolicy::busy_poll(),
            ..server_options()
        };
        let mut busy = Server::open(&dir, &opts).unwrap();
        assert!(busy.recv(Some(short)).unwrap().is_none());
    });
    drop(client);
}
