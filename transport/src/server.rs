//! The syncd side of a channel: takes requests (decoded from the ring's private
//! copy of each record), answers them, and publishes notifications.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::Duration;

use sairing_ring::{Consumer, Mark};

use crate::channel::Paths;
use crate::codec::{self, Op, Request, KIND_NOTIFICATION, KIND_REQUEST, KIND_RESPONSE};
use crate::endpoint::{Endpoint, Side, WaitPolicy, WaitStats};
use crate::error::{Error, Result};
use crate::rendezvous::{self, Accepted, AccessPolicy};

/// Server settings.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Spinning, sleeping, and how long to wait when the response ring is full.
    pub wait: WaitPolicy,
    /// Who may connect besides this process's own uid.
    pub access: AccessPolicy,
}

/// Counters of the rendezvous socket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Clients admitted.
    pub admitted: u64,
    /// Clients turned away by the credentials check.
    pub refused: u64,
    /// Handshakes that broke off, and looks at the socket that could not
    /// accept for want of descriptors (the client waits in the backlog).
    pub failed: u64,
    /// The uid, gid and pid of the last client turned away.
    pub last_refused: Option<(u32, u32, i32)>,
    /// Why the last handshake broke off.
    pub last_failed: Option<String>,
}

/// The writing half of a server: the response ring and the doorbells, and
/// the socket clients connect to.
struct Out {
    ep: Endpoint,
    sockets: Sockets,
}

/// The server's side of the rendezvous socket.
struct Sockets {
    paths: Paths,
    listener: UnixListener,
    access: AccessPolicy,
    stats: ConnectionStats,
    /// Connections whose hello has not arrived yet.
    pending: Vec<rendezvous::PendingPeer>,
    /// The pending connections the doorbell watches (so that a loop watching
    /// only `AsFd` hears a late hello).
    watched: Vec<RawFd>,
}

impl Out {
    fn respond<A: AsRef<str>, S: AsRef<str>>(
        &mut self,
        t: Ticket,
        status: &str,
        attrs: &[(A, A)],
        statuses: &[S],
    ) -> Result<()> {
        let len = codec::response_len(status, attrs, statuses);
        self.publish(len, KIND_RESPONSE, |buf| {
            codec::encode_response(buf, t.op, t.epoch, t.seq, status, attrs, statuses)
        })
    }

    fn notify(&mut self, name: &str, payload: &str) -> Result<()> {
        let len = codec::notification_len(name, payload);
        self.publish(len, KIND_NOTIFICATION, |buf| {
            codec::encode_notification(buf, name, payload)
        })
    }

    /// Accepts pending clients and notices a client that has gone away.
    fn service(&mut self) -> Result<Vec<RawFd>> {
        self.sockets.service(&mut self.ep)
    }

    /// Reserves `len` bytes of the response ring (waiting for space, accepting
    /// clients meanwhile), lets `encode` fill them, publishes, and rings the
    /// client if it sleeps.
    fn publish(&mut self, len: usize, kind: u16, encode: impl FnOnce(&mut [u8])) -> Result<()> {
        let Out { ep, sockets } = self;
        let mut r = ep.reserve_waiting(len, kind, |ep| sockets.service(ep))?;
        encode(&mut r);
        r.commit();
        self.ep.wake_peer();
        Ok(())
    }
}

impl Server {
    /// Accepts pending clients and notices one that has gone away (see
    /// `Out::service`), then reads the client's epoch again.
    fn service_sockets(&mut self) -> Result<Vec<RawFd>> {
        let fds = self.out.service()?;
        self.client_epoch = self.rx.producer_epoch() as u32;
        Ok(fds)
    }
}

/// A request record that does not decode (its bytes were damaged, or written
/// by something that is not the client) is answered with `SAI_STATUS_FAILURE`
/// under its record's sequence number, which is the one the client gave it: a
/// client waiting for that answer gets an error instead of waiting for ever.
/// Returns the error for the caller to count and skip; an error publishing the
/// answer takes its place. Unless `at_once`, the caller answers it in its turn
/// (see [`Server::set_answer_undecodable`]).
#[cold]
fn undecodable(out: &mut Out, at_once: bool, epoch: u32, e: codec::DecodeError) -> Error {
    if !at_once {
        return Error::Decode(e);
    }
    let t = Ticket {
        op: Op::Create,
        epoch,
        seq: e.record_seq,
    };
    match out.respond::<&str, &str>(t, codec::STATUS_FAILURE, &[], &[]) {
        Ok(()) => Error::Decode(e),
        Err(publish) => publish,
    }
}

impl Sockets {
    /// Accepts pending clients (checking their credentials) and notices a
    /// client that has gone away; returns the listener and the connections
    /// still to say hello, to sleep on besides the bell and the peer.
    fn service(&mut self, ep: &mut Endpoint) -> Result<Vec<RawFd>> {
        ep.check_peer();
        // Unwatched while they are still open (accept may close them, and a
        // descriptor number closed could come back as another connection).
        for fd in self.watched.drain(..) {
            ep.bell.unwatch(fd);
        }
        loop {
            match rendezvous::accept(&self.paths, &self.listener, self.access, &mut self.pending)? {
                Accepted::Nothing => break,
                Accepted::Peer(p) => {
                    // A newly admitted client replaces the current one.
                    ep.set_peer(p)?;
                    self.stats.admitted += 1;
                }
                Accepted::Refused { uid, gid, pid } => {
                    self.stats.refused += 1;
                    self.stats.last_refused = Some((uid, gid, pid));
                }
                Accepted::Failed(why) => {
                    self.stats.failed += 1;
                    self.stats.last_failed = Some(why);
                }
                Accepted::Stalled(why) => {
                    self.stats.failed += 1;
                    self.stats.last_failed = Some(why);
                    break;
                }
            }
        }
        for p in &self.pending {
            let fd = p.as_raw_fd();
            if ep.bell.watch(fd).is_ok() {
                self.watched.push(fd);
            }
        }
        Ok(self.fds())
    }

    /// The listener and every connection still to say hello.
    fn fds(&self) -> Vec<RawFd> {
        let mut fds = vec![self.listener.as_raw_fd()];
        fds.extend(self.pending.iter().map(|p| p.as_raw_fd()));
        fds
    }
}

/// The server end of a channel.
pub struct Server {
    rx: Consumer,
    out: Out,
    auto_release: bool,
    /// Whether `recv` answers a record that does not decode itself.
    answer_undecodable: bool,
    unreleased: u32,
    /// The client's epoch, read from the request ring whenever the sockets
    /// are serviced (a client attaches, and so sets it, before it is
    /// admitted), for answering a record that does not decode without a load
    /// on every request.
    client_epoch: u32,
}

/// An answer owed: what a response must carry to reach the client that sent
/// the request (its op, its incarnation and its sequence number). Taken from an
/// [`Incoming`] to answer later, after the request itself is gone
/// ([`Server::respond_to`]); the C API hands it across as `sairing_ticket`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    /// The request's op.
    pub op: Op,
    /// The client incarnation that sent it.
    pub epoch: u32,
    /// Its sequence number.
    pub seq: u64,
}

/// A request taken from the ring, with the means to answer it.
pub struct Incoming<'a> {
    /// The request, borrowing from the private copy of its record.
    pub request: Request<'a>,
    /// Its ring record's sequence number.
    pub record_seq: u64,
    payload: &'a [u8],
    out: &'a mut Out,
}

impl<'a> Incoming<'a> {
    /// The record's encoded bytes (to hand to a recorder without decoding twice
    /// on the hot path).
    pub fn payload(&self) -> &'a [u8] {
        self.payload
    }

    /// Answers the request: a status, the attributes of a get, and one status
    /// per object of a bulk call. Waits for space if the response ring is full.
    ///
    /// ```
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path().join("asic");
    /// # sairing_transport::channel::create(&dir, &Default::default())?;
    /// # let mut server = sairing_transport::Server::open(&dir, &Default::default())?;
    /// # let mut client = sairing_transport::Client::open(&dir, &Default::default())?;
    /// use sairing_transport::{Body, Op};
    /// let seq = client.send(Op::Get, "SAI_OBJECT_TYPE_SWITCH:oid:0x21000000000000", &Body::Attrs(&[("SAI_SWITCH_ATTR_PORT_NUMBER", "0")]))?;
    /// let mut req = server.recv(None)?.unwrap();
    /// req.respond::<&str, &str>("SAI_STATUS_SUCCESS", &[("SAI_SWITCH_ATTR_PORT_NUMBER", "32")], &[])?;
    /// let r = client.wait_for(seq, None)?;
    /// assert_eq!(r.attrs, [("SAI_SWITCH_ATTR_PORT_NUMBER".to_owned(), "32".to_owned())]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn respond<A: AsRef<str>, S: AsRef<str>>(
        &mut self,
        status: &str,
        attrs: &[(A, A)],
        statuses: &[S],
    ) -> Result<()> {
        self.out.respond(self.ticket(), status, attrs, statuses)
    }

    /// What an answer to this request must carry, to answer it later with
    /// [`Server::respond_to`].
    pub fn ticket(&self) -> Ticket {
        Ticket {
            op: self.request.op,
            epoch: self.request.epoch,
            seq: self.request.seq,
        }
    }

    /// Answers with a bare status.
    pub fn respond_status(&mut self, status: &str) -> Result<()> {
        self.respond::<&str, &str>(status, &[], &[])
    }

    /// Publishes a notification this request caused, as
    /// [`Server::notify`] does (while the request is still held).
    ///
    /// ```
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path().join("asic");
    /// # sairing_transport::channel::create(&dir, &Default::default())?;
    /// # let mut server = sairing_transport::Server::open(&dir, &Default::default())?;
    /// # let mut client = sairing_transport::Client::open(&dir, &Default::default())?;
    /// server.notify("port_state_change", "[]")?;
    /// client.pump()?;
    /// let n = client.take_notifications();
    /// assert_eq!(n[0].name, "port_state_change");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn notify(&mut self, name: &str, payload: &str) -> Result<()> {
        self.out.notify(name, payload)
    }
}

impl Server {
    /// Attaches to the channel in `dir` as its server, and starts listening for
    /// the client. Requests already in the ring (sent while no server ran) are
    /// the first ones [`recv`](Server::recv) returns.
    pub fn open(dir: impl AsRef<Path>, opts: &ServerOptions) -> Result<Server> {
        let paths = Paths::new(dir);
        let (ep, rx) = Endpoint::attach(&paths, Side::Server, opts.wait)?;
        let listener = rendezvous::listen(&paths)?;
        // A client connecting rings the doorbell too, so that an event loop
        // watching only `AsFd` (swss::Select takes one descriptor) accepts it.
        ep.bell
            .watch(listener.as_raw_fd())
            .map_err(crate::error::io(&paths.socket, "epoll_ctl"))?;
        let mut s = Server {
            rx,
            out: Out {
                ep,
                sockets: Sockets {
                    paths,
                    listener,
                    access: opts.access,
                    stats: ConnectionStats::default(),
                    pending: Vec::new(),
                    watched: Vec::new(),
                },
            },
            auto_release: true,
            answer_undecodable: true,
            unreleased: 0,
            client_epoch: 0,
        };
        s.service_sockets()?;
        Ok(s)
    }

    /// With auto-release (the default), `recv` releases what the previous calls
    /// returned: every 64 requests, and whenever it finds nothing new (so the
    /// client gets its space back as soon as the server idles). Without it, the caller releases explicitly
    /// ([`release_to`](Server::release_to)), e.g. only once a request's effects
    /// are durable.
    pub fn set_auto_release(&mut self, on: bool) {
        self.auto_release = on;
    }

    /// How the server's sleeps have ended so far (see [`WaitStats`]).
    pub fn wait_stats(&self) -> WaitStats {
        self.out.ep.stats
    }

    /// Whether auto-release is on.
    pub fn auto_release(&self) -> bool {
        self.auto_release
    }

    /// The position after the last request returned.
    pub fn mark(&self) -> Mark {
        self.rx.mark()
    }

    /// Releases the requests before `mark`.
    ///
    /// ```
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path().join("asic");
    /// # sairing_transport::channel::create(&dir, &Default::default())?;
    /// # let mut server = sairing_transport::Server::open(&dir, &Default::default())?;
    /// # let mut client = sairing_transport::Client::open(&dir, &Default::default())?;
    /// use sairing_transport::{Body, Op};
    /// server.set_auto_release(false); // release only once the effects are durable
    /// let a: [(&str, &str); 0] = [];
    /// client.send(Op::Remove, "SAI_OBJECT_TYPE_VLAN:oid:0x26000000000001", &Body::Attrs(&a))?;
    /// server.recv(None)?.unwrap().respond_status("SAI_STATUS_SUCCESS")?;
    /// let durable = server.mark();
    /// // ... once its effects are written down:
    /// assert!(server.release_to(durable));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release_to(&mut self, mark: Mark) -> bool {
        self.out.ep.release(&mut self.rx, Some(mark))
    }

    /// Releases every request returned so far.
    pub fn release(&mut self) {
        self.out.ep.release(&mut self.rx, None);
        self.unreleased = 0;
    }

    /// Starts again from the first unreleased request (warm restart of the
    /// request stream within one process).
    pub fn rewind(&mut self) {
        self.rx.rewind();
    }

    /// Whether a client is connected now.
    pub fn connected(&self) -> bool {
        self.out.ep.peer.is_some()
    }

    /// Connection counters.
    pub fn connection_stats(&self) -> ConnectionStats {
        self.out.sockets.stats.clone()
    }

    /// Accepts a waiting client and notices one that has gone away (also done
    /// inside every wait).
    pub fn service(&mut self) -> Result<()> {
        self.service_sockets().map(drop)
    }

    /// The request ring's identity, as lowercase hex.
    pub fn ring_id_hex(&self) -> String {
        self.rx
            .ring_id()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The sequence number of the next request to be read.
    pub fn next_seq(&self) -> u64 {
        self.rx.next_seq()
    }

    /// Waits up to `timeout` (`None`: forever) for the next request. A record
    /// that does not decode is reported as [`Error::Decode`] and skipped.
    ///
    /// ```
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path().join("asic");
    /// # sairing_transport::channel::create(&dir, &Default::default())?;
    /// # let mut server = sairing_transport::Server::open(&dir, &Default::default())?;
    /// # let mut client = sairing_transport::Client::open(&dir, &Default::default())?;
    /// use sairing_transport::{Body, Op};
    /// client.send(Op::Set, "SAI_OBJECT_TYPE_PORT:oid:0x1000000000001", &Body::Attrs(&[("SAI_PORT_ATTR_MTU", "9100")]))?;
    /// let mut req = server.recv(None)?.expect("the request");
    /// assert_eq!((req.request.op, req.request.key), (Op::Set, "SAI_OBJECT_TYPE_PORT:oid:0x1000000000001"));
    /// req.respond_status("SAI_STATUS_SUCCESS")?;
    /// assert!(server.recv(Some(std::time::Duration::ZERO))?.is_none()); // nothing more
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn recv(&mut self, timeout: Option<Duration>) -> Result<Option<Incoming<'_>>> {
        if self.auto_release
            && self.unreleased > 0
            && (self.unreleased >= 64 || !self.rx.has_next()?)
        {
            self.release();
        }
        // The wait starts only once nothing is there: reading the clock costs as
        // much as decoding a request, and a streaming server rarely waits.
        if !self.rx.has_next()? {
            let mut wait = self.out.ep.read_wait(timeout);
            let Out { ep, sockets } = &mut self.out;
            let ready = ep.wait_readable(&mut self.rx, &mut wait, |ep| sockets.service(ep))?;
            // A client that attached while we waited has a new epoch.
            self.client_epoch = self.rx.producer_epoch() as u32;
            if !ready {
                return Ok(None);
            }
        }
        let epoch = self.client_epoch;
        let Some(rec) = self.rx.read()? else {
            return Ok(None);
        };
        self.unreleased = self.unreleased.saturating_add(1);
        let record_seq = rec.seq();
        if rec.kind() != KIND_REQUEST {
            // Taken off the ring like an undecodable record: the caller skips
            // and counts it, and a restart does not meet it again.
            let e = codec::DecodeError {
                record_seq,
                what: "a record of another kind than a request",
                offset: 0,
            };
            return Err(undecodable(
                &mut self.out,
                self.answer_undecodable,
                epoch,
                e,
            ));
        }
        let payload = rec.payload();
        let request = match codec::decode_request(payload, record_seq) {
            Ok(r) => r,
            Err(e) => {
                return Err(undecodable(
                    &mut self.out,
                    self.answer_undecodable,
                    epoch,
                    e,
                ))
            }
        };
        Ok(Some(Incoming {
            request,
            record_seq,
            payload,
            out: &mut self.out,
        }))
    }

    /// Whether [`Server::recv`] answers a record that does not decode itself,
    /// at once (on by default: right for a server that answers each request
    /// before it reads the next). A server that reads ahead of its answers
    /// turns it off and answers the record in its turn, with
    /// [`Server::undecodable_ticket`] and `SAI_STATUS_FAILURE`: the client
    /// takes an answer older than one it already has for a repeat, and drops
    /// it.
    pub fn set_answer_undecodable(&mut self, at_once: bool) {
        self.answer_undecodable = at_once;
    }

    /// The ticket to answer the record `e` names with, right after
    /// [`Server::recv`] reported it.
    pub fn undecodable_ticket(&self, e: &codec::DecodeError) -> Ticket {
        Ticket {
            op: Op::Create,
            epoch: self.client_epoch,
            seq: e.record_seq,
        }
    }

    /// Answers the request `ticket` was taken from (see [`Incoming::respond`]),
    /// after the [`Incoming`] itself is gone. The server answers in request
    /// order: answer each ticket once, in the order the requests came.
    pub fn respond_to<A: AsRef<str>, S: AsRef<str>>(
        &mut self,
        ticket: Ticket,
        status: &str,
        attrs: &[(A, A)],
        statuses: &[S],
    ) -> Result<()> {
        self.out.respond(ticket, status, attrs, statuses)
    }

    /// Publishes an unsolicited notification (port_state_change, ...).
    pub fn notify(&mut self, name: &str, payload: &str) -> Result<()> {
        self.out.notify(name, payload)
    }

    /// For an external event loop: before waiting on [`AsFd`] (and the
    /// descriptors of [`Server::socket_fds`]), call this; `false` means a request
    /// is already there. After waking, call [`Server::after_wake`].
    pub fn prepare_to_wait(&mut self) -> Result<bool> {
        self.service_sockets()?;
        Ok(self.rx.sleep_prepare()?)
    }

    /// After an external wait returned.
    pub fn after_wake(&mut self) -> Result<()> {
        self.out.ep.after_wake(&mut self.rx);
        self.service_sockets().map(drop)
    }

    /// The listening socket, connections still to say hello and, when
    /// connected, the client's connection: watch them for readability alongside
    /// [`AsFd`] (the set changes: ask again after each wake).
    pub fn socket_fds(&self) -> Vec<RawFd> {
        let mut v = self.out.sockets.fds();
        if let Some(p) = &self.out.ep.peer {
            v.push(p.stream.as_raw_fd());
        }
        v
    }
}

/// The server's doorbell: readable when the client has rung (or hung up), or a
/// client is connecting. The same descriptor for the server's life, whichever
/// client is connected. (A client whose hello comes after its connection was
/// accepted is admitted at the next wake; [`Server::socket_fds`] lists those
/// connections for a loop that can watch more than one descriptor.)
impl AsFd for Server {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.out.ep.bell.as_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{channel, Body, Client};

    /// With auto-release off, the count of requests read since the last
    /// release only grows (found in review: a u32 that overflowed after 2^32
    /// requests, a panic in a debug build). It stops at its ceiling instead.
    #[test]
    fn the_count_of_unreleased_requests_cannot_overflow() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("asic");
        channel::create(&dir, &Default::default()).unwrap();
        let mut server = Server::open(&dir, &Default::default()).unwrap();
        let mut client = Client::open(&dir, &Default::default()).unwrap();
        server.set_auto_release(false);
        server.unreleased = u32::MAX;
        let a: [(&str, &str); 0] = [];
        client
            .send(
                Op::Remove,
                "SAI_OBJECT_TYPE_VLAN:oid:0x26000000000001",
                &Body::Attrs(&a),
            )
            .unwrap();
        let op = server.recv(None).unwrap().expect("the request").request.op;
        assert_eq!(op, Op::Remove);
        assert_eq!(server.unreleased, u32::MAX);
    }
}
