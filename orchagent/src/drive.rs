//! Sends a stream of requests through a client in one of sairedis's modes,
//! checks every status against what was expected, and measures each request's
//! latency (send to response) into a histogram.

use std::collections::HashMap;
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

/// Sends requests and checks their answers.
pub struct Driver {
    client: Client,
    mode: Mode,
    window: usize,
    pending: HashMap<u64, Pending>,
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
            pending: HashMap::new(),
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
        if let Some(p) = self.pending.remove(&r.seq) {
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
        while self.pending.len() >= self.window {
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
