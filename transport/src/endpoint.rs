//! The core both ends of a channel are built on: the ring a side writes, its
//! own doorbell, the peer (when connected) and the adaptive wait, with the
//! steps every side takes the same way: attach to the rings, wait for input
//! (spin, look at the sockets, announce the sleep, sleep, look again), wait for
//! space, ring the peer after publishing or releasing, and the prepare/after
//! steps of an external event loop. The client and the server add only what is
//! theirs: what they service on the sockets, and what they read and write.

use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use sairing_ring::{Consumer, Mark, OpenOptions, Producer, Reservation};

use crate::bell::{self, Bell};
use crate::channel::{self, Paths};
use crate::error::{io, push_error, Result};
use crate::rendezvous::Peer;

/// How a side waits for input: spin for a while, then sleep on its doorbell.
/// The spin adapts to the traffic: it starts at `spin`, and each time a side
/// slept and what it waited for came within `spin_max` of the wait's start,
/// it doubles (up to `spin_max`): a longer spin would have caught it without
/// the cost of a sleep and a wake-up. A wait longer than `spin_max` (the
/// traffic stopped) sets it back to `spin`. While requests flow, both sides so
/// poll as busy-polling ones do; once they stop, each spins at most `spin_max`
/// before it sleeps. (Waiting for space in a full ring spins `spin`.)
#[derive(Debug, Clone, Copy)]
pub struct WaitPolicy {
    /// Busy-poll at least this long before sleeping. `Duration::MAX` never
    /// sleeps (the peer then never needs to ring: busy-poll mode); zero never
    /// spins, however the traffic flows.
    pub spin: Duration,
    /// The longest the spin grows to while traffic flows (no more than `spin`:
    /// it does not grow).
    pub spin_max: Duration,
    /// Give up waiting for the peer (a response, or space in a full ring)
    /// after this long.
    pub timeout: Duration,
    /// Return `Full` at once instead of waiting when the ring we write is full.
    pub nonblocking: bool,
}

impl Default for WaitPolicy {
    fn default() -> Self {
        WaitPolicy {
            spin: Duration::from_micros(50),
            spin_max: SPIN_MAX,
            timeout: Duration::from_secs(30),
            nonblocking: false,
        }
    }
}

/// The default [`WaitPolicy::spin_max`]. Measured with
/// `scripts/measure-syncd.sh` in sync mode (see docs/BENCHMARKS.md).
pub const SPIN_MAX: Duration = Duration::from_millis(2);

impl WaitPolicy {
    /// Busy-polling: never sleeps, never makes a system call to wait.
    pub fn busy_poll() -> Self {
        WaitPolicy {
            spin: Duration::MAX,
            spin_max: Duration::MAX,
            ..Default::default()
        }
    }

    /// Spins exactly `spin` before each sleep, whatever the traffic.
    pub fn fixed_spin(spin: Duration) -> Self {
        WaitPolicy {
            spin,
            spin_max: spin,
            ..Default::default()
        }
    }

    /// The spin of the wait after one that spun `spin_now`, took `waited`,
    /// and slept (or not).
    pub(crate) fn next_spin(&self, spin_now: Duration, waited: Duration, slept: bool) -> Duration {
        if self.spin.is_zero() {
            Duration::ZERO
        } else if waited > self.spin_max {
            // The traffic stopped (or nothing came: `Duration::MAX`), slept
            // or not: a caller polling with short timeouts must not keep a
            // spin grown while traffic flowed.
            self.spin
        } else if !slept {
            spin_now
        } else {
            spin_now.saturating_mul(2).min(self.spin_max).max(self.spin)
        }
    }
}

/// The state of a wait in progress.
pub(crate) struct Wait {
    start: Instant,
    spin_until: Option<Instant>,
    deadline: Option<Instant>,
    spins: u32,
    no_spin: bool,
    /// Whether it has slept.
    slept: bool,
}

impl Wait {
    /// A wait that spins `spin` first, and gives up after `timeout`.
    pub(crate) fn new(spin: Duration, timeout: Option<Duration>) -> Wait {
        let start = Instant::now();
        Wait {
            start,
            spin_until: start.checked_add(spin),
            deadline: timeout.and_then(|t| start.checked_add(t)),
            spins: 0,
            // No time to wait: a look, not a spin.
            no_spin: spin.is_zero() || timeout.is_some_and(|t| t.is_zero()),
            slept: false,
        }
    }

    pub(crate) fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Whether a spinning side should look at its sockets now (accept a peer,
    /// notice a hang-up): every 8192 turns, about every 0.1 ms of spinning, so
    /// a busy-polling side still answers connections.
    #[inline]
    pub(crate) fn service_due(&self) -> bool {
        self.spins % 8192 == 8191
    }

    /// One spin step; `false` once the spin budget is spent.
    #[inline]
    pub(crate) fn spin(&mut self) -> bool {
        if self.no_spin {
            return false;
        }
        self.spins = self.spins.wrapping_add(1);
        // Reading the clock costs ~20 ns: look only every 64 turns.
        if self.spins.is_multiple_of(64) {
            let now = Instant::now();
            let spin_over = self.spin_until.is_some_and(|t| now >= t);
            let past_deadline = self.deadline.is_some_and(|d| now >= d);
            if spin_over || past_deadline {
                return false;
            }
        }
        std::hint::spin_loop();
        true
    }

    /// Time left before the deadline (`None`: no deadline); zero once past it.
    pub(crate) fn left(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    pub(crate) fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// How a side's sleeps inside sairing ended (the waits of an external event
/// loop are its own, and not counted). On a healthy connected channel every
/// sleep ends because the peer rang (or the caller's deadline passed with
/// nothing to do): a lost wake-up shows as `timed_out` with work waiting, and
/// `polled` counts only the looks taken while no peer was connected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WaitStats {
    /// Woken by the peer's doorbell.
    pub rung: u64,
    /// Ended by the short poll taken while no peer is connected (20 ms).
    pub polled: u64,
    /// Ended by the deadline, nothing rung.
    pub timed_out: u64,
    /// Woken by another descriptor: a client connecting, a handshake.
    pub other: u64,
    /// The peer's connection hung up.
    pub hung_up: u64,
}

/// One side's writing half and doorbells.
pub(crate) struct Endpoint {
    pub(crate) tx: Producer,
    pub(crate) bell: Bell,
    pub(crate) peer: Option<Peer>,
    pub(crate) policy: WaitPolicy,
    /// How long the next wait for input spins (see [`WaitPolicy`]).
    pub(crate) spin_now: Duration,
    pub(crate) ring_path: std::path::PathBuf,
    pub(crate) stats: WaitStats,
}

/// How long one sleep may last while no peer is connected: the peer's rings
/// cannot reach us then, so we look at the ring (and for the peer) this often.
pub(crate) const UNCONNECTED_POLL: Duration = Duration::from_millis(20);

/// Which end of the channel a side is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// Writes requests, reads responses and notifications.
    Client,
    /// Reads requests, writes responses and notifications.
    Server,
}

impl Endpoint {
    /// Attaches to the channel at `paths` as `side`: the ring it writes (its
    /// endpoint) and the ring it reads. Both sides take the request ring first.
    pub(crate) fn attach(
        paths: &Paths,
        side: Side,
        policy: WaitPolicy,
    ) -> Result<(Endpoint, Consumer)> {
        channel::check_parent(&paths.dir)?;
        let ro = OpenOptions::default();
        let (tx, rx, ring_path) = match side {
            Side::Client => {
                let tx = Producer::open(&paths.request, &ro)?;
                (tx, Consumer::open(&paths.response, &ro)?, &paths.request)
            }
            Side::Server => {
                let rx = Consumer::open(&paths.request, &ro)?;
                (Producer::open(&paths.response, &ro)?, rx, &paths.response)
            }
        };
        let bell = Bell::new().map_err(io(&paths.dir, "epoll_create"))?;
        let ep = Endpoint {
            tx,
            bell,
            peer: None,
            policy,
            spin_now: policy.spin,
            ring_path: ring_path.clone(),
            stats: WaitStats::default(),
        };
        Ok((ep, rx))
    }

    /// After publishing: rings the peer if it announced that it sleeps. With no
    /// peer connected nothing is taken, so the announcement stays for whoever
    /// connects next (and each side re-checks the rings on connection anyway).
    #[inline]
    pub(crate) fn wake_peer(&mut self) {
        if let Some(p) = &self.peer {
            if self.tx.take_consumer_wakeup() {
                p.ring();
            }
        }
    }

    /// The descriptors to sleep on: the peer's connection (directly: a wake-up
    /// through the bell's epoll would take one more hop), and any extra.
    pub(crate) fn sleep_fds(&self, extra: impl IntoIterator<Item = RawFd>) -> Vec<RawFd> {
        let mut fds = Vec::with_capacity(4);
        if let Some(p) = &self.peer {
            fds.push(p.stream.as_raw_fd());
        }
        fds.extend(extra);
        fds
    }

    /// Takes `p` as the peer (replacing any other), watches its connection,
    /// and rings it once: it may be asleep waiting for what was published
    /// before it connected.
    pub(crate) fn set_peer(&mut self, p: Peer) -> Result<()> {
        self.drop_peer();
        self.bell
            .watch(p.stream.as_raw_fd())
            .map_err(io(&self.ring_path, "epoll_ctl"))?;
        p.ring();
        self.peer = Some(p);
        Ok(())
    }

    /// Forgets the peer: its connection is no longer watched, and is closed
    /// (see [`bell::Conn`]).
    pub(crate) fn drop_peer(&mut self) {
        if let Some(p) = self.peer.take() {
            // Unwatched first: until it is closed (perhaps later, on the
            // closer's thread), a hung-up connection would keep ringing.
            self.bell.unwatch(p.stream.as_raw_fd());
        }
    }

    /// Empties the peer's rings (after waking).
    pub(crate) fn drain(&self) {
        if let Some(p) = &self.peer {
            // A hang-up stays readable: `check_peer` sees it next.
            bell::drain(&p.stream);
        }
    }

    /// Sleeps on `fds` until rung, the deadline, or (with no peer) a short poll.
    pub(crate) fn sleep(&mut self, fds: &[RawFd], wait: &Wait) -> Result<()> {
        let mut t = wait.left();
        let connected = self.peer.is_some();
        if !connected {
            t = Some(t.map_or(UNCONNECTED_POLL, |t| t.min(UNCONNECTED_POLL)));
        }
        let revents = bell::wait_raw(fds, t).map_err(io(&self.ring_path, "poll"))?;
        // With a peer, its connection is the first descriptor.
        let peer = if connected {
            revents.first().copied().unwrap_or(0)
        } else {
            0
        };
        let s = &mut self.stats;
        if peer & (libc::POLLHUP | libc::POLLERR) != 0 {
            s.hung_up += 1;
        } else if peer & libc::POLLIN != 0 {
            s.rung += 1;
        } else if revents.iter().any(|&r| r != 0) {
            s.other += 1;
        } else if connected {
            s.timed_out += 1;
        } else {
            s.polled += 1;
        }
        self.drain();
        Ok(())
    }

    /// Drops the peer if its connection has closed; returns whether it did.
    pub(crate) fn check_peer(&mut self) -> bool {
        if self.peer.as_ref().is_some_and(|p| p.hung_up()) {
            self.drop_peer();
            return true;
        }
        false
    }

    /// Waits until `rx` has a record to read, or `wait`'s deadline passes;
    /// returns whether one is there. Spins first (looking at the sockets now
    /// and then, so a busy-polling side still notices peers), then announces
    /// its sleep and sleeps on the peer's connection and what `service` names
    /// (it runs before each sleep and after each wake, to accept or reconnect
    /// a peer).
    pub(crate) fn wait_readable(
        &mut self,
        rx: &mut Consumer,
        wait: &mut Wait,
        service: impl FnMut(&mut Endpoint) -> Result<Vec<RawFd>>,
    ) -> Result<bool> {
        let r = self.wait_readable_inner(rx, wait, service);
        let waited = if matches!(r, Ok(true)) {
            wait.elapsed()
        } else {
            // Nothing came: the traffic stopped.
            Duration::MAX
        };
        self.spin_now = self.policy.next_spin(self.spin_now, waited, wait.slept);
        r
    }

    /// A wait for input as [`Endpoint::wait_readable`] starts it: spinning as
    /// the traffic so far says.
    pub(crate) fn read_wait(&self, timeout: Option<Duration>) -> Wait {
        Wait::new(self.spin_now, timeout)
    }

    /// Sets the policy (and the spin back to its start).
    pub(crate) fn set_policy(&mut self, policy: WaitPolicy) {
        self.policy = policy;
        self.spin_now = policy.spin;
    }

    fn wait_readable_inner(
        &mut self,
        rx: &mut Consumer,
        wait: &mut Wait,
        mut service: impl FnMut(&mut Endpoint) -> Result<Vec<RawFd>>,
    ) -> Result<bool> {
        while !rx.has_next()? {
            if wait.spin() {
                if wait.service_due() {
                    service(self)?;
                }
                continue;
            }
            if wait.expired() {
                return Ok(false);
            }
            let extra = service(self)?;
            if rx.sleep_prepare()? {
                let fds = self.sleep_fds(extra);
                wait.slept = true;
                let r = self.sleep(&fds, wait);
                rx.sleep_done();
                r?;
                service(self)?;
            }
        }
        Ok(true)
    }

    /// Releases what `rx` has read (up to `to`, when given; see
    /// [`Consumer::release_to`]) and rings the peer if it waits for the space.
    /// Returns `false` when `to` was refused.
    pub(crate) fn release(&self, rx: &mut Consumer, to: Option<Mark>) -> bool {
        let ok = match to {
            Some(m) => rx.release_to(m),
            None => {
                rx.release();
                true
            }
        };
        if rx.take_producer_wakeup() {
            if let Some(p) = &self.peer {
                p.ring();
            }
        }
        ok
    }

    /// For an external event loop, after its wait on the bell returned: the
    /// sleep announced by [`Consumer::sleep_prepare`] is over, and the peer's
    /// rings are emptied. (The side then services its sockets.)
    pub(crate) fn after_wake(&self, rx: &mut Consumer) {
        rx.sleep_done();
        self.drain();
    }

    /// Reserves `len` bytes in the ring we write, waiting for space as the policy
    /// says. `service` runs around each sleep (to accept or reconnect a peer) and
    /// may name one more descriptor to sleep on.
    pub(crate) fn reserve_waiting(
        &mut self,
        len: usize,
        kind: u16,
        mut service: impl FnMut(&mut Endpoint) -> Result<Vec<RawFd>>,
    ) -> Result<Reservation<'_>> {
        let mut waited = None;
        // A record the ring can never hold is refused at once, not after a
        // wait for space.
        let may_fit = len <= self.tx.max_payload();
        if may_fit && !self.tx.can_reserve(len)? && !self.policy.nonblocking {
            // What is in the ring may not be published or rung for yet (a
            // batch publishes and rings once, at its end): a peer that cannot
            // see it, or sleeps, would never make space.
            self.tx.publish();
            self.wake_peer();
            let policy = self.policy;
            let wait = &mut Wait::new(policy.spin, Some(policy.timeout));
            while !self.tx.can_reserve(len)? {
                if wait.spin() {
                    if wait.service_due() {
                        service(self)?;
                    }
                    continue;
                }
                if wait.expired() {
                    break;
                }
                let extra = service(self)?;
                if self.tx.space_wait_prepare(len)? {
                    let fds = self.sleep_fds(extra);
                    let r = self.sleep(&fds, wait);
                    self.tx.space_wait_done();
                    r?;
                }
            }
            waited = Some(wait.elapsed());
        }
        self.tx
            .reserve(len, kind)
            .map_err(|e| push_error(&self.ring_path, e, waited))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wait with no time to wait (`recv(Some(0))`, `next_completion(Some(0))`,
    /// the C API's timeout 0: a look, as C++'s `empty()` takes after every
    /// batch) does not spin. It spun 63 turns before it first read the clock,
    /// which with `pause` at up to 140 cycles a turn cost microseconds a look.
    #[test]
    fn a_wait_with_no_time_does_not_spin() {
        let spin = WaitPolicy::default().spin;
        let mut w = Wait::new(spin, Some(Duration::ZERO));
        assert!(!w.spin(), "spun with a zero timeout");
        let mut w = Wait::new(spin, Some(Duration::from_secs(1)));
        assert!(w.spin(), "a wait with time left spins first");
    }

    /// The spin doubles when a side slept for something that came within
    /// `spin_max`, up to it; goes back to `spin` after a longer wait; stays
    /// when the spin caught it; and a spin of zero or forever never changes.
    #[test]
    fn the_spin_grows_while_traffic_flows_and_shrinks_when_it_stops() {
        let us = Duration::from_micros;
        let p = WaitPolicy {
            spin: us(50),
            spin_max: us(1000),
            ..WaitPolicy::default()
        };
        assert_eq!(p.next_spin(us(50), us(300), true), us(100));
        assert_eq!(p.next_spin(us(100), us(1000), true), us(200));
        assert_eq!(p.next_spin(us(800), us(900), true), us(1000));
        assert_eq!(p.next_spin(us(1000), us(900), true), us(1000));
        assert_eq!(p.next_spin(us(800), us(1001), true), us(50));
        assert_eq!(p.next_spin(us(800), Duration::MAX, true), us(50));
        assert_eq!(p.next_spin(us(400), us(300), false), us(400));
        // A wait that ended with nothing, without sleeping (a poll with a
        // timeout shorter than the spin): the traffic stopped.
        assert_eq!(p.next_spin(us(1000), Duration::MAX, false), us(50));
        assert_eq!(p.next_spin(us(1000), us(1001), false), us(50));
        let fixed = WaitPolicy::fixed_spin(us(50));
        assert_eq!(fixed.next_spin(us(50), us(60), true), us(50));
        let never = WaitPolicy::fixed_spin(Duration::ZERO);
        assert_eq!(
            never.next_spin(Duration::ZERO, us(10), true),
            Duration::ZERO
        );
        let no_spin = WaitPolicy {
            spin: Duration::ZERO,
            ..WaitPolicy::default()
        };
        assert_eq!(
            no_spin.next_spin(Duration::ZERO, us(10), true),
            Duration::ZERO
        );
        let busy = WaitPolicy::busy_poll();
        assert_eq!(busy.next_spin(Duration::MAX, us(10), true), Duration::MAX);
        assert_eq!(
            busy.next_spin(Duration::MAX, Duration::MAX, true),
            Duration::MAX
        );
        // A start longer than the ceiling does not shrink.
        let long = WaitPolicy {
            spin: us(5000),
            ..p
        };
        assert_eq!(long.next_spin(us(5000), us(900), true), us(5000));
    }
}
