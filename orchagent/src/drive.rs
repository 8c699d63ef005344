//! Sends a stream of requests through a client in one of sairedis's modes,
//! checks every status against what was expected, and measures each request's
//! latency (send to response) into a histogram.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use sairing_transport::{Body, BulkObject, Client, Mode, Op, Response};

/// What a run did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Requests sent.
    pub requests: u64,
    /// Responses received for them.
    pub answered: u64,
    /// Repeated responses (a restarted syncd answering again).
    pub duplicates: u64,
    /// Repeated responses whose status was not the expected one: requests
    /// applied twice.
    pub duplicates_with_other_status: u64,
    /// Responses whose status was not the expected one.
    pub failures: u64,
    /// The first few failures, described.
    pub first_failures: Vec<String>,
    /// Wall time.
    pub seconds: f64,
    /// Latency percentiles in microseconds: p50, p99, p99.9, max.
    pub latency_us: [f64; 4],
}

impl Summary {
    /// Requests per second.
    pub fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds.max(1e-9)
    }

    /// The summary as one JSON object.
    pub fn to_json(&self, extra: serde_json::Value) -> serde_json::Value {
        let mut v = serde_json::json!({
            "requests": self.requests,
            "answered": self.answered,
            "duplicates": self.duplicates,
            "duplicates_with_other_status": self.duplicates_with_other_status,
            "failures": self.failures,
            "seconds": self.seconds,
            "requests_per_s": self.rate(),
            "latency_us": {"p50": self.latency_us[0], "p99": self.latency_us[1], "p999": self.latency_us[2], "max": self.latency_us[3]},
            "first_failures": self.first_failures,
        });
        if let (Some(o), serde_json::Value::Object(e)) = (v.as_object_mut(), extra) {
            o.extend(e);
        }
        v
    }

    /// One human line.
    pub fn line(&self) -> String {
        format!(
            "{} requests, {} answered, {} failures, {:.2} s, {:.0} requests/s, latency p50 {:.1} µs p99 {:.1} µs p99.9 {:.1} µs",
            self.requests,
            self.answered,
            self.failures,
            self.seconds,
            self.rate(),
            self.latency_us[0],
            self.latency_us[1],
            self.latency_us[2]
        )
    }
}

struct Pending {
    sent: Instant,
    expect: String,
    /// Per-object statuses a bulk request must get; empty: not checked beyond
    /// "all succeeded" when `expect` is success.
    expect_statuses: Vec<String>,
    what: String,
}

/// Requests sent and not answered yet, by sequence number, in a queue in
/// the order sent (a client numbers its requests one after another; any it
/// sent past the driver leave empty slots). Taking an answer touches the
/// front of the queue, where a hash table spread a window of 8,192 requests
/// over half a megabyte: a cache miss an answer, an eighth of orchagent's
/// time under the route workload.
#[derive(Default)]
struct InFlight {
    /// The sequence number of the front slot.
    base: u64,
    slots: VecDeque<Option<Pending>>,
    /// Slots that hold a request.
    len: usize,
}

impl InFlight {
    fn insert(&mut self, seq: u64, p: Pending) {
        if self.slots.is_empty() {
            self.base = seq;
        }
        while seq < self.base {
            self.slots.push_front(None);
            self.base -= 1;
        }
        let i = (seq - self.base) as usize;
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        if self.slots[i].replace(p).is_none() {
            self.len += 1;
        }
    }

    fn remove(&mut self, seq: u64) -> Option<Pending> {
        let i = usize::try_from(seq.checked_sub(self.base)?).ok()?;
        let p = self.slots.get_mut(i)?.take()?;
        self.len -= 1;
        while let Some(None) = self.slots.front() {
            self.slots.pop_front();
            self.base += 1;
        }
        Some(p)
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Sequence numbers from the oldest request held to the newest.
    fn span(&self) -> usize {
        self.slots.len()
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// Sends requests and checks their answers.
pub struct Driver {
    client: Client,
    mode: Mode,
    window: usize,
    pending: InFlight,
    hist: Histogram<u64>,
    requests: u64,
    answered: u64,
    failures: u64,
    first: Vec<String>,
    /// Expected statuses other than success, by sequence number.
    unusual: HashMap<u64, String>,
    start: Instant,
    timeout: Duration,
}

impl Driver {
    /// Drives `client` in `mode`: sync waits for each answer; async waits only
    /// for get and notify; pipelined waits for nothing (up to `window` requests
    /// in flight). The client itself is put in pipelined mode, so the driver
    /// sees every completion and does the waiting.
    pub fn new(mut client: Client, mode: Mode, window: usize, timeout: Duration) -> Driver {
        client.set_mode(Mode::Pipelined);
        Driver {
            client,
            mode,
            window: window.max(1),
            pending: InFlight::default(),
            hist: Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
                .expect("valid histogram bounds"),
            requests: 0,
            answered: 0,
            failures: 0,
            unusual: HashMap::new(),
            first: Vec::new(),
            start: Instant::now(),
            timeout,
        }
    }

    /// The client.
    pub fn client(&mut self) -> &mut Client {
        &mut self.client
    }

    fn complete(&mut self, r: Response) {
        if let Some(p) = self.pending.remove(r.seq) {
            self.answered += 1;
            let _ = self
                .hist
                .record((p.sent.elapsed().as_nanos() as u64).max(1));
            let ok = r.status == p.expect
                && if p.expect_statuses.is_empty() {
                    r.statuses.is_empty()
                        || p.expect != sairing_transport::codec::STATUS_SUCCESS
                        || r.statuses
                            .iter()
                            .all(|s| s == sairing_transport::codec::STATUS_SUCCESS)
                } else {
                    r.statuses == p.expect_statuses
                };
            if !ok {
                self.failures += 1;
                if self.first.len() < 10 {
                    self.first.push(format!(
                        "{}: got {}, expected {}",
                        p.what, r.status, p.expect
                    ));
                }
            }
        }
    }

    fn drain(&mut self, block: bool) -> anyhow::Result<()> {
        let mut wait = if block {
            Some(self.timeout)
        } else {
            Some(Duration::ZERO)
        };
        while let Some(r) = self.client.next_completion(wait)? {
            self.complete(r);
            wait = Some(Duration::ZERO);
        }
        if block && wait != Some(Duration::ZERO) {
            anyhow::bail!(
                "no response within {:?} ({} requests in flight)",
                self.timeout,
                self.pending.len()
            );
        }
        Ok(())
    }

    /// Sends one request. `expect` is the status it must get, `expect_statuses`
    /// (bulk, may be empty) the status of each object. `what` describes it in
    /// failure reports.
    #[allow(clippy::too_many_arguments)]
    pub fn submit(
        &mut self,
        op: Op,
        key: &str,
        attrs: &[(String, String)],
        objects: &[(String, Vec<(String, String)>)],
        expect: &str,
        expect_statuses: &[String],
        what: impl FnOnce() -> String,
    ) -> anyhow::Result<()> {
        let seq = if op.is_bulk() {
            let objs: Vec<BulkObject<'_, (String, String)>> = objects
                .iter()
                .map(|(id, a)| BulkObject {
                    id: id.as_str(),
                    attrs: a,
                })
                .collect();
            self.client.send(op, key, &Body::Bulk(&objs))?
        } else {
            self.client.send(op, key, &Body::Attrs(attrs))?
        };
        self.track(seq, expect, expect_statuses, what);
        if self.mode.waits_for(op) {
            let r = self.client.wait_for(seq, Some(self.timeout))?;
            self.complete(r);
        }
        self.drain(false)?;
        // The window counts from the oldest request not answered, not the
        // requests held: one left unanswered stops the sending (and the
        // queue's growth) a window later, until the timeout says so.
        while self.pending.span() >= self.window {
            self.drain(true)?;
        }
        Ok(())
    }

    /// Sends a get and waits for its answer (whatever the mode), which it
    /// returns; its status is checked like any other's.
    pub fn get_now(
        &mut self,
        key: &str,
        attrs: &[(String, String)],
        expect: &str,
        what: impl FnOnce() -> String,
    ) -> anyhow::Result<sairing_transport::Response> {
        let seq = self.client.send(Op::Get, key, &Body::Attrs(attrs))?;
        self.track(seq, expect, &[], what);
        let r = self.client.wait_for(seq, Some(self.timeout))?;
        self.complete(r.clone());
        Ok(r)
    }

    /// Counts request `seq` as sent and waits for its answer to check it.
    fn track(
        &mut self,
        seq: u64,
        expect: &str,
        expect_statuses: &[String],
        what: impl FnOnce() -> String,
    ) {
        self.requests += 1;
        if expect != sairing_transport::codec::STATUS_SUCCESS {
            self.unusual.insert(seq, expect.to_owned());
        }
        self.pending.insert(
            seq,
            Pending {
                sent: Instant::now(),
                expect: expect.to_owned(),
                expect_statuses: expect_statuses.to_vec(),
                what: what(),
            },
        );
    }

    /// Waits until every request sent so far is answered.
    pub fn settle(&mut self) -> anyhow::Result<()> {
        while !self.pending.is_empty() {
            self.drain(true)?;
        }
        Ok(())
    }

    /// Waits for every answer and returns the summary.
    pub fn finish(mut self) -> anyhow::Result<(Summary, Client)> {
        self.settle()?;
        let dups = self.client.take_duplicates();
        let other = dups
            .iter()
            .filter(|(seq, status)| {
                self.unusual
                    .get(seq)
                    .map_or(sairing_transport::codec::STATUS_SUCCESS, |s| s.as_str())
                    != status
            })
            .count() as u64;
        let h = &self.hist;
        let us = |v: u64| v as f64 / 1000.0;
        let summary = Summary {
            requests: self.requests,
            answered: self.answered,
            duplicates: dups.len() as u64,
            duplicates_with_other_status: other,
            failures: self.failures,
            first_failures: self.first,
            seconds: self.start.elapsed().as_secs_f64(),
            latency_us: [
                us(h.value_at_quantile(0.5)),
                us(h.value_at_quantile(0.99)),
                us(h.value_at_quantile(0.999)),
                us(h.max()),
            ],
        };
        Ok((summary, self.client))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(what: u64) -> Pending {
        Pending {
            sent: Instant::now(),
            expect: String::new(),
            expect_statuses: Vec::new(),
            what: what.to_string(),
        }
    }

    /// Against a map: requests numbered upwards with gaps (and some below
    /// the oldest in flight, and some given twice), answered in any order,
    /// answers to requests never sent or already answered ignored.
    #[test]
    fn in_flight_holds_what_a_map_would() {
        let mut q = InFlight::default();
        let mut m: HashMap<u64, u64> = HashMap::new();
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut next = |n: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % n
        };
        let mut seq = 1_000u64;
        let mut newest = 0;
        for step in 0..20_000u64 {
            match next(10) {
                0..=4 => {
                    seq += 1 + next(3);
                    let s = if next(50) == 0 {
                        seq.saturating_sub(next(40))
                    } else {
                        seq
                    };
                    q.insert(s, pending(step));
                    m.insert(s, step);
                    newest = newest.max(s);
                }
                _ => {
                    let s = seq.saturating_sub(next(64));
                    let got = q.remove(s).map(|p| p.what);
                    assert_eq!(got, m.remove(&s).map(|w| w.to_string()), "step {step}: {s}");
                }
            }
            assert_eq!(q.len(), m.len(), "step {step}");
            // From the oldest held to the newest sent since the queue was
            // last empty (answered or not).
            if m.is_empty() {
                newest = 0;
            }
            let span = m.keys().min().map_or(0, |lo| newest - lo + 1);
            assert_eq!(q.span() as u64, span, "step {step}");
            assert_eq!(q.is_empty(), m.is_empty());
        }
        for s in 0..seq + 2 {
            assert_eq!(
                q.remove(s).map(|p| p.what),
                m.remove(&s).map(|w| w.to_string())
            );
        }
        assert!(q.is_empty() && q.slots.is_empty(), "emptied, nothing kept");
    }
}
