//! The orchagent side of a channel: sends SAI requests, receives responses and
//! notifications.

use std::collections::VecDeque;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant};

use sairing_ring::{Consumer, Mark};

use crate::channel::Paths;
use crate::codec::{self, Attr, Body, Op, Text, KIND_NOTIFICATION, KIND_REQUEST, KIND_RESPONSE};
use crate::endpoint::{Endpoint, Side, WaitPolicy, WaitStats};
use crate::error::{Error, Result};
use crate::rendezvous;

pub use crate::calls::{Mode, Notification, Outcome, Response};

/// Client settings.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// Call behaviour.
    pub mode: Mode,
    /// Spinning, sleeping, timeouts and full-ring behaviour.
    pub wait: WaitPolicy,
}

/// The client end of a channel.
pub struct Client {
    paths: Paths,
    ep: Endpoint,
    rx: Consumer,
    conn: Connecting,
    epoch: u32,
    mode: Mode,
    sent: u64,
    answered: u64,
    stale: u64,
    last_answered: u64,
    duplicates: Vec<(u64, String)>,
    /// What `duplicates` holds, in bytes (bounded by `DUPLICATES_MAX_BYTES`).
    duplicate_bytes: usize,
    awaiting: Option<u64>,
    completed: VecDeque<Response>,
    failures: Vec<Response>,
    /// Notifications read but not yet taken, each with the ring position just
    /// before it: the ring is released only up to the first of them (within
    /// half the ring, see `release_taken`), so a client that dies before taking
    /// them leaves them to the next one.
    notifications: VecDeque<(Notification, Mark)>,
    on_notification: Option<Box<dyn FnMut(Notification) + Send>>,
}

/// The most bytes of repeated responses a client keeps for
/// [`Client::take_duplicates`] between two takes; later repeats are not kept.
const DUPLICATES_MAX_BYTES: usize = 16 << 20;

impl Client {
    /// Attaches to the channel in `dir` as its client. The server need not be
    /// running: requests queue in the ring (up to its capacity) and the client
    /// connects when the server appears.
    pub fn open(dir: impl AsRef<Path>, opts: &ClientOptions) -> Result<Client> {
        let paths = Paths::new(dir);
        let (ep, rx) = Endpoint::attach(&paths, Side::Client, opts.wait)?;
        let epoch = ep.tx.epoch() as u32;
        let mut c = Client {
            ep,
            paths,
            rx,
            conn: Connecting {
                next: Instant::now(),
                handshake: None,
                deferred: None,
            },
            epoch,
            mode: opts.mode,
            sent: 0,
            answered: 0,
            stale: 0,
            last_answered: 0,
            duplicates: Vec::new(),
            duplicate_bytes: 0,
            awaiting: None,
            completed: VecDeque::new(),
            failures: Vec::new(),
            notifications: VecDeque::new(),
            on_notification: None,
        };
        c.service()?;
        Ok(c)
    }

    /// This client's incarnation (responses to earlier ones are discarded).
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Whether the server is connected now.
    pub fn connected(&self) -> bool {
        self.ep.peer.is_some()
    }

    /// The sequence number the next request will carry: one more than the number
    /// of requests ever committed to this channel's request ring.
    pub fn next_request_seq(&self) -> u64 {
        self.ep.tx.next_seq()
    }

    /// Requests sent, and responses received for them.
    pub fn counts(&self) -> (u64, u64) {
        (self.sent, self.answered)
    }

    /// Repeated responses (sequence number and status) received so far, which
    /// were not delivered a second time. A repeat whose status differs from the
    /// first answer means the request was applied twice.
    pub fn take_duplicates(&mut self) -> Vec<(u64, String)> {
        self.duplicate_bytes = 0;
        std::mem::take(&mut self.duplicates)
    }

    /// Responses to a previous incarnation of this client that were discarded.
    pub fn stale_responses(&self) -> u64 {
        self.stale
    }

    /// How the client's sleeps have ended so far (see [`WaitStats`]).
    pub fn wait_stats(&self) -> WaitStats {
        self.ep.stats
    }

    /// How the client waits.
    pub fn wait_policy(&self) -> WaitPolicy {
        self.ep.policy
    }

    /// Changes how the client waits (spinning, sleeping, timeouts, full ring).
    pub fn set_wait_policy(&mut self, policy: WaitPolicy) {
        self.ep.set_policy(policy);
    }

    /// The call mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Changes the call mode.
    pub fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    /// Delivers notifications to `f` as they arrive instead of queueing them.
    pub fn on_notification(&mut self, f: impl FnMut(Notification) + Send + 'static) {
        self.on_notification = Some(Box::new(f));
    }

    /// Notifications received so far (when no callback is set).
    pub fn take_notifications(&mut self) -> Vec<Notification> {
        let out = self.notifications.drain(..).map(|(n, _)| n).collect();
        self.release_taken();
        out
    }

    /// Failed responses to async calls received so far.
    pub fn take_failures(&mut self) -> Vec<Response> {
        std::mem::take(&mut self.failures)
    }

    /// The oldest failed response to an async call not taken yet, if any (one
    /// at a time, for callers that hand them on one by one).
    pub fn next_failure(&mut self) -> Option<Response> {
        (!self.failures.is_empty()).then(|| self.failures.remove(0))
    }

    /// Reconnects to the server if needed (rate-limited) and notices a server
    /// that has gone away. Called from every wait; callers with their own event
    /// loop call it when the socket or the bell fires. Also reports a failure
    /// to connect met while a send rang for what it had published.
    pub fn service(&mut self) -> Result<()> {
        self.conn.step(&self.paths, &mut self.ep)
    }

    /// Sends a request; returns its sequence number. Waits for space in a full
    /// ring unless the policy is non-blocking.
    ///
    /// ```
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path().join("asic");
    /// # sairing_transport::channel::create(&dir, &Default::default())?;
    /// # let mut server = sairing_transport::Server::open(&dir, &Default::default())?;
    /// # let mut client = sairing_transport::Client::open(&dir, &Default::default())?;
    /// use sairing_transport::{Body, Op};
    /// let seq = client.send(Op::Create, "SAI_OBJECT_TYPE_VLAN:oid:0x26000000000001", &Body::Attrs(&[("SAI_VLAN_ATTR_VLAN_ID", "100")]))?;
    /// server.recv(None)?.unwrap().respond_status("SAI_STATUS_SUCCESS")?;
    /// assert!(client.wait_for(seq, None)?.is_success());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn send<K: Text + ?Sized, P: Attr>(
        &mut self,
        op: Op,
        key: &K,
        body: &Body<'_, P>,
    ) -> Result<u64> {
        self.conn.report()?;
        let seq = self.stage(op, key, body)?;
        self.ep.tx.publish();
        self.wake_server();
        Ok(seq)
    }

    /// Rings the server if it sleeps. A client that only sends would never
    /// finish connecting (nothing else services its socket), and an
    /// unconnected client cannot ring: with no server connected, it looks
    /// (rate-limited, never waiting).
    ///
    /// What it rings for is published already, so a connection that fails
    /// here is not the send's error (a caller would send the request again):
    /// it is kept, and the next call reports it before doing anything else
    /// (a send before it stages a request; [`Client::service`] and every wait).
    #[inline]
    fn wake_server(&mut self) {
        if self.ep.peer.is_none() {
            if let Err(e) = self.service() {
                self.conn.deferred = Some(e);
            }
        }
        self.ep.wake_peer();
    }

    /// Sends several requests and checks once, at the end, whether the server
    /// sleeps and must be woken (`send` checks after each request: a SeqCst
    /// fence and a load). For bursts; returns the first request's sequence
    /// number (the others follow it). On an error part-way (a full ring, for a
    /// non-blocking client) the requests before it are sent, and the server
    /// is woken for them; [`Client::next_seq`] tells how far it got.
    pub fn send_batch<'r, K: Text + ?Sized + 'r, P: Attr + 'r>(
        &mut self,
        requests: impl IntoIterator<Item = (Op, &'r K, Body<'r, P>)>,
    ) -> Result<u64> {
        self.conn.report()?;
        let first = self.ep.tx.next_seq();
        let mut stopped = Ok(());
        for (op, key, body) in requests {
            // The burst is published with one store of the tail.
            if let Err(e) = self.stage(op, key, &body) {
                stopped = Err(e);
                break;
            }
        }
        self.ep.tx.publish();
        if self.ep.tx.next_seq() != first {
            self.wake_server();
        }
        stopped.map(|()| first)
    }

    /// The sequence number the next request will have.
    pub fn next_seq(&self) -> u64 {
        self.ep.tx.next_seq()
    }

    /// Writes one request, staged: the consumer sees it from the next
    /// `self.ep.tx.publish()` (a commit is a stage and a publish).
    #[inline]
    fn stage<K: Text + ?Sized, P: Attr>(
        &mut self,
        op: Op,
        key: &K,
        body: &Body<'_, P>,
    ) -> Result<u64> {
        let len = codec::request_len(key, body);
        let epoch = self.epoch;
        let paths = &self.paths;
        let conn = &mut self.conn;
        let mut r = self.ep.reserve_waiting(len, KIND_REQUEST, |ep| {
            conn.step(paths, ep).map(|()| Vec::new())
        })?;
        let seq = r.seq();
        // A string that is not UTF-8 leaves the reservation unstaged:
        // dropped, it publishes nothing.
        codec::encode_request(&mut r, op, epoch, seq, key, body)?;
        r.stage();
        self.sent += 1;
        Ok(seq)
    }

    /// Reads every response and notification available now; returns how many.
    pub fn pump(&mut self) -> Result<usize> {
        let mut n = 0;
        let result = loop {
            let before = self.rx.mark();
            let rec = match self.rx.read() {
                Ok(Some(rec)) => rec,
                Ok(None) => break Ok(()),
                Err(e) => break Err(e.into()),
            };
            n += 1;
            let rseq = rec.seq();
            match rec.kind() {
                KIND_RESPONSE => {
                    let v = match codec::decode_response(rec.payload(), rseq) {
                        Ok(v) => v,
                        Err(e) => break Err(e.into()),
                    };
                    if v.epoch != self.epoch {
                        self.stale += 1;
                        continue;
                    }
                    // The server answers in request order, so a sequence number
                    // at or below the last one answered is a repeat (a restarted
                    // server delivering again). It is kept aside, not delivered.
                    if v.seq <= self.last_answered {
                        // Kept up to a bound in bytes: a server cannot make the
                        // client hold an unbounded amount of repeats.
                        let bytes = 8 + v.status.len();
                        if self.duplicate_bytes + bytes <= DUPLICATES_MAX_BYTES {
                            self.duplicate_bytes += bytes;
                            self.duplicates.push((v.seq, v.status.to_owned()));
                        }
                        continue;
                    }
                    self.last_answered = v.seq;
                    let resp = Response {
                        op: v.op,
                        seq: v.seq,
                        status: v.status.to_owned(),
                        attrs: v.attrs.to_vec(),
                        statuses: v.statuses.iter().map(|s| (*s).to_owned()).collect(),
                    };
                    self.answered += 1;
                    let awaited = self.awaiting == Some(resp.seq);
                    match self.mode {
                        // An answer nobody will wait for (create, set, remove
                        // in async mode): kept only if it failed. A get's,
                        // notify's or flush's is waited for, perhaps after
                        // this pump: it is kept.
                        Mode::Async if !awaited && !self.mode.waits_for(resp.op) => {
                            if !resp.is_success() {
                                self.failures.push(resp);
                            }
                        }
                        _ => self.completed.push_back(resp),
                    }
                }
                KIND_NOTIFICATION => {
                    let v = match codec::decode_notification(rec.payload(), rseq) {
                        Ok(v) => v,
                        Err(e) => break Err(e.into()),
                    };
                    let note = Notification {
                        name: v.name.to_owned(),
                        payload: v.payload.to_owned(),
                    };
                    match &mut self.on_notification {
                        Some(f) => f(note),
                        None => self.notifications.push_back((note, before)),
                    }
                }
                other => {
                    break Err(Error::WrongKind {
                        path: self.paths.response.clone(),
                        seq: rseq,
                        kind: other,
                        expected: "a response or a notification",
                    })
                }
            }
        };
        // A bad record is skipped (released) after being reported.
        self.release_taken();
        result.map(|()| n)
    }

    /// Releases what has been read, up to the first notification not yet taken,
    /// and wakes the server if it waits for room. Untaken notifications hold at
    /// most half the response ring: past that everything read is released (a
    /// client that never takes its notifications must not stall the server),
    /// and those queued lose their protection against this client's death.
    fn release_taken(&mut self) {
        let to = match self.notifications.front() {
            Some((_, before)) if self.rx.pending_bytes() <= self.rx.capacity() / 2 => Some(*before),
            _ => None,
        };
        self.ep.release(&mut self.rx, to);
    }

    /// Reads what arrives until `done` gives a value, or the timeout (the
    /// policy's when `None`) passes: `Ok(None)` then. The one wait of the
    /// client: every call that waits for the server is this with its own `done`.
    fn wait_until<T>(
        &mut self,
        timeout: Option<Duration>,
        mut done: impl FnMut(&mut Client) -> Option<T>,
    ) -> Result<Option<T>> {
        let timeout = timeout.unwrap_or(self.ep.policy.timeout);
        let mut wait = self.ep.read_wait(Some(timeout));
        loop {
            if let Some(t) = done(self) {
                return Ok(Some(t));
            }
            if self.pump()? > 0 {
                continue;
            }
            let Client {
                ep,
                rx,
                paths,
                conn,
                ..
            } = self;
            let arrived = ep.wait_readable(rx, &mut wait, |ep| {
                conn.step(paths, ep)?;
                // A handshake in flight wakes us when the server answers it.
                Ok(conn.handshake.iter().map(|h| h.as_raw_fd()).collect())
            })?;
            if !arrived {
                return Ok(None);
            }
        }
    }

    /// Waits for the response to request `seq`.
    pub fn wait_for(&mut self, seq: u64, timeout: Option<Duration>) -> Result<Response> {
        self.awaiting = Some(seq);
        let r = self.wait_until(timeout, |c| {
            let i = c.completed.iter().position(|r| r.seq == seq)?;
            c.completed.remove(i)
        });
        self.awaiting = None;
        r?.ok_or_else(|| self.timeout("response", timeout))
    }

    /// The next completed response in arrival order (pipelined mode), waiting
    /// up to `timeout`; `None` on timeout.
    ///
    /// ```
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path().join("asic");
    /// # sairing_transport::channel::create(&dir, &Default::default())?;
    /// # let mut server = sairing_transport::Server::open(&dir, &Default::default())?;
    /// # let mut client = sairing_transport::Client::open(&dir, &Default::default())?;
    /// use sairing_transport::{Mode, Outcome};
    /// client.set_mode(Mode::Pipelined);
    /// let Outcome::Sent(first) = client.set("SAI_OBJECT_TYPE_PORT:oid:0x1000000000001", "SAI_PORT_ATTR_MTU", "9100")? else { unreachable!() };
    /// client.set("SAI_OBJECT_TYPE_PORT:oid:0x1000000000002", "SAI_PORT_ATTR_MTU", "9100")?;
    /// while let Some(mut req) = server.recv(Some(std::time::Duration::ZERO))? {
    ///     req.respond_status("SAI_STATUS_SUCCESS")?;
    /// }
    /// assert_eq!(client.next_completion(None)?.unwrap().seq, first);
    /// assert_eq!(client.next_completion(None)?.unwrap().seq, first + 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_completion(&mut self, timeout: Option<Duration>) -> Result<Option<Response>> {
        self.wait_until(timeout, |c| c.completed.pop_front())
    }

    /// Waits until every request sent so far has been answered.
    ///
    /// ```
    /// # let tmp = tempfile::tempdir()?;
    /// # let dir = tmp.path().join("asic");
    /// # sairing_transport::channel::create(&dir, &Default::default())?;
    /// # let mut server = sairing_transport::Server::open(&dir, &Default::default())?;
    /// # let mut client = sairing_transport::Client::open(&dir, &Default::default())?;
    /// use sairing_transport::Mode;
    /// client.set_mode(Mode::Async);
    /// for port in 1..=4 {
    ///     client.set(&format!("SAI_OBJECT_TYPE_PORT:oid:0x100000000000{port}"), "SAI_PORT_ATTR_MTU", "9100")?;
    /// }
    /// while let Some(mut req) = server.recv(Some(std::time::Duration::ZERO))? {
    ///     req.respond_status("SAI_STATUS_SUCCESS")?;
    /// }
    /// client.wait_all(None)?;
    /// assert_eq!(client.counts(), (4, 4));
    /// assert!(client.take_failures().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_all(&mut self, timeout: Option<Duration>) -> Result<()> {
        self.wait_until(timeout, |c| (c.answered >= c.sent).then_some(()))?
            .ok_or_else(|| self.timeout("response to every request sent", timeout))
    }

    /// Waits up to `timeout` for a notification (queued ones first).
    pub fn next_notification(&mut self, timeout: Duration) -> Result<Option<Notification>> {
        self.wait_until(Some(timeout), |c| {
            let (n, _) = c.notifications.pop_front()?;
            c.release_taken();
            Some(n)
        })
    }

    #[cold]
    fn timeout(&self, what: &'static str, timeout: Option<Duration>) -> Error {
        Error::Timeout {
            path: self.paths.dir.clone(),
            what,
            after: timeout.unwrap_or(self.ep.policy.timeout),
        }
    }

    /// Sends a request and, as the mode says, waits for its response or not.
    ///
    /// An error from the wait (a timeout, a refused or broken connection)
    /// comes after the request went: it is in the ring and will run, so it
    /// must not be sent again. An error from the send itself means it did not
    /// go; to tell the two apart, [`Client::next_seq`] has moved past a
    /// request that went. The same holds for [`Client::get`] and
    /// [`Client::notify_syncd`], which always wait.
    pub fn execute<P: Attr>(&mut self, op: Op, key: &str, body: &Body<'_, P>) -> Result<Outcome> {
        let seq = self.send(op, key, body)?;
        if self.mode.waits_for(op) {
            Ok(Outcome::Done(self.wait_for(seq, None)?))
        } else {
            Ok(Outcome::Sent(seq))
        }
    }

    /// SAI create.
    pub fn create<A: AsRef<str>>(&mut self, key: &str, attrs: &[(A, A)]) -> Result<Outcome> {
        self.execute(Op::Create, key, &Body::Attrs(attrs))
    }

    /// SAI remove.
    pub fn remove(&mut self, key: &str) -> Result<Outcome> {
        self.execute(Op::Remove, key, &Body::EMPTY)
    }

    /// SAI set of one attribute.
    pub fn set(&mut self, key: &str, name: &str, value: &str) -> Result<Outcome> {
        self.execute(Op::Set, key, &Body::Attrs(&[(name, value)]))
    }

    /// SAI get: `attrs` names the attributes wanted (values as placeholders, as
    /// sairedis records them). Always waits.
    pub fn get<A: AsRef<str>>(&mut self, key: &str, attrs: &[(A, A)]) -> Result<Response> {
        let seq = self.send(Op::Get, key, &Body::Attrs(attrs))?;
        self.wait_for(seq, None)
    }

    /// A bulk operation on objects of one type; the response has one status per object.
    pub fn bulk<A: AsRef<str>>(
        &mut self,
        op: Op,
        object_type: &str,
        objects: &[codec::BulkObject<'_, (A, A)>],
    ) -> Result<Outcome> {
        self.execute(op, object_type, &Body::Bulk(objects))
    }

    /// A notify to syncd (INIT_VIEW, APPLY_VIEW, ...). Always waits.
    pub fn notify_syncd(&mut self, name: &str) -> Result<Response> {
        let seq = self.send(Op::Notify, name, &Body::EMPTY)?;
        self.wait_for(seq, None)
    }

    /// For an external event loop: before waiting on [`AsFd`], call this; if it
    /// returns `false` a response is already there (do not wait). After waking,
    /// call [`Client::after_wake`].
    pub fn prepare_to_wait(&mut self) -> Result<bool> {
        self.service()?;
        Ok(self.rx.sleep_prepare()?)
    }

    /// After an external wait on [`AsFd`] returned.
    pub fn after_wake(&mut self) -> Result<()> {
        self.ep.after_wake(&mut self.rx);
        self.service()
    }

    /// The descriptor an external loop watches beside [`AsFd`]: the server
    /// connection (for its hang-up) or, while connecting, the handshake in
    /// flight (for the server's answer). `None` while neither exists: wait at
    /// most 20 ms, then call [`Client::after_wake`] (it tries to connect again).
    pub fn socket_fd(&self) -> Option<RawFd> {
        match (&self.ep.peer, &self.conn.handshake) {
            (Some(p), _) => Some(p.stream.as_raw_fd()),
            (None, Some(h)) => Some(h.as_raw_fd()),
            (None, None) => None,
        }
    }
}

/// A client's way to its server while it has none.
struct Connecting {
    /// When a new attempt may start (attempts are rate-limited).
    next: Instant,
    /// The attempt in flight, if any.
    handshake: Option<rendezvous::PendingHandshake>,
    /// A failure met while a send rang for what it had published, for the
    /// next call to report ([`Client::wake_server`]).
    deferred: Option<Error>,
}

impl Connecting {
    /// Reports a failure kept for later.
    fn report(&mut self) -> Result<()> {
        self.deferred.take().map_or(Ok(()), Err)
    }

    /// Notices a server that has gone away, and connects when none is: at most
    /// one handshake in flight, never waiting for the server's reply (a stopped
    /// or hung server must not stall the client), new attempts rate-limited.
    fn step(&mut self, paths: &Paths, ep: &mut Endpoint) -> Result<()> {
        self.report()?;
        ep.check_peer();
        if ep.peer.is_some() {
            return Ok(());
        }
        if self.handshake.is_none() && Instant::now() >= self.next {
            self.next = Instant::now() + crate::endpoint::UNCONNECTED_POLL;
            self.handshake = rendezvous::connect_start(paths)?;
        }
        if let Some(hs) = self.handshake.take() {
            match rendezvous::connect_finish(paths, hs, Duration::ZERO)? {
                // Anything published while unconnected may be waiting on a
                // server that went to sleep before we were connected: set_peer
                // rings once.
                rendezvous::Handshake::Done(p) => ep.set_peer(p)?,
                rendezvous::Handshake::Pending(hs) => self.handshake = Some(hs),
                rendezvous::Handshake::Gone => {}
            }
        }
        Ok(())
    }
}

/// The client's doorbell: readable when the server has rung (or hung up). The
/// same descriptor for the client's life, across reconnections.
impl AsFd for Client {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.ep.bell.as_fd()
    }
}
