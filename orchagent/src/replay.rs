//! A `sairedis.rec` recording replayed through a channel, as saiplayer replays
//! one through sairedis: requests sent in order, `E` lines checked, `@` sleeps
//! honoured after everything before them is answered. One implementation for
//! `orchagent replay`, `sairing replay` and the conformance step.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use sairing_rec::{Recording, Step};
use sairing_transport::{Client, Mode, Op};

use crate::drive::{Driver, Summary};
use crate::ids::OidMap;

/// How a recording is replayed.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplayOptions {
    /// Pass over `@` lines instead of sleeping. By default a replay does what
    /// saiplayer does: it waits until every request before the sleep is
    /// answered, then sleeps, because a recording's sleep gives the switch time
    /// to settle (and send its notifications) before what follows.
    pub no_sleep: bool,
}

/// What a replay did.
#[derive(Debug, Clone)]
pub struct ReplayReport {
    /// The requests.
    pub summary: Summary,
    /// `@` lines honoured.
    pub sleeps: u64,
    /// Milliseconds slept.
    pub slept_ms: u64,
    /// `@` lines passed over (`--no-sleep`).
    pub sleeps_skipped: u64,
    /// Lines passed over, by op letter ([`sairing_rec::PASSED_OVER`]).
    pub passed_over: std::collections::BTreeMap<char, u64>,
    /// The recording's ids of objects this switch numbered otherwise (its
    /// default objects), learned from gets.
    pub ids: OidMap,
    /// Gets whose recorded answers name objects, compared with this switch's
    /// answers (read through `ids`): attributes compared, and how many of
    /// each name differed.
    pub answers: AnswerCheck,
}

/// Recorded get answers about the switch's objects against this switch's,
/// for the answers that name only objects earlier gets already identified (a
/// scheduler group's children, once the port's queues are known): a check of
/// the map, not the answer it was learned from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AnswerCheck {
    /// Attribute values compared.
    pub compared: u64,
    /// Of which equal.
    pub equal: u64,
    /// Attributes whose values differed, with how often.
    pub differing: std::collections::BTreeMap<String, u64>,
}

impl AnswerCheck {
    /// The attributes that differed, as `NAME count, ...`.
    pub fn differing_line(&self) -> String {
        let d: Vec<String> = self
            .differing
            .iter()
            .map(|(n, c)| format!("{n} {c}"))
            .collect();
        d.join(", ")
    }

    fn check(&mut self, ids: &OidMap, recorded: &[(String, String)], actual: &[(String, String)]) {
        for (n, v) in recorded {
            let Some((_, a)) = actual.iter().find(|(k, _)| k == n) else {
                continue;
            };
            if !ids.decides(v) {
                continue;
            }
            self.compared += 1;
            if ids.translate(v) == a.as_str() {
                self.equal += 1;
            } else {
                *self.differing.entry(n.clone()).or_default() += 1;
            }
        }
    }
}

impl ReplayReport {
    /// The report as one JSON object, with `extra` merged in.
    pub fn to_json(&self, extra: serde_json::Value) -> serde_json::Value {
        let over: serde_json::Map<String, serde_json::Value> = self
            .passed_over
            .iter()
            .map(|(c, n)| (c.to_string(), (*n).into()))
            .collect();
        let mut v = self.summary.to_json(extra);
        if let Some(o) = v.as_object_mut() {
            o.insert("sleeps".into(), self.sleeps.into());
            o.insert("slept_ms".into(), self.slept_ms.into());
            o.insert("sleeps_skipped".into(), self.sleeps_skipped.into());
            o.insert("passed_over".into(), over.into());
            o.insert("ids_mapped".into(), self.ids.len().into());
            o.insert("id_conflicts".into(), self.ids.conflicts().into());
            o.insert(
                "get_answers".into(),
                serde_json::json!({
                    "compared": self.answers.compared,
                    "equal": self.answers.equal,
                    "differing": self.answers.differing,
                }),
            );
        }
        v
    }

    /// The summary line, then what was slept and passed over.
    pub fn line(&self) -> String {
        let over: Vec<String> = self
            .passed_over
            .iter()
            .map(|(c, n)| format!("{n} {c}"))
            .collect();
        format!(
            "{}; sleeps: {} ({} ms){}; passed over: {}",
            self.summary.line(),
            self.sleeps,
            self.slept_ms,
            if self.sleeps_skipped > 0 {
                format!(", {} skipped", self.sleeps_skipped)
            } else {
                String::new()
            },
            if over.is_empty() {
                "nothing".to_owned()
            } else {
                over.join(", ")
            }
        )
    }
}

/// Replays `rec` (parsed from the file `name`) through `driver`, calling
/// `progress` after each request.
pub fn replay(
    mut driver: Driver,
    rec: &Recording,
    name: &str,
    opts: ReplayOptions,
    mut progress: impl FnMut(),
) -> anyhow::Result<(ReplayReport, Client)> {
    let (mut sleeps, mut slept_ms, mut sleeps_skipped) = (0, 0, 0);
    let mut ids = OidMap::default();
    let mut answers = AnswerCheck::default();
    for step in &rec.steps {
        match step {
            Step::Request(op) => {
                let what = || format!("{name}:{} {} {}", op.line, op.op.name(), op.key);
                let key = ids.translate(&op.key);
                if op.op == Op::Get && OidMap::names_objects(&op.returned) {
                    // Its answer names objects: waited for, and learned from.
                    let attrs = ids.translate_attrs(&op.attrs);
                    let r = driver.get_now(&key, &attrs, &op.expect, what)?;
                    answers.check(&ids, &op.returned, &r.attrs);
                    ids.learn(&op.returned, &r.attrs, op.line);
                } else if ids.is_empty() {
                    driver.submit(
                        op.op,
                        &key,
                        &op.attrs,
                        &op.objects,
                        &op.expect,
                        &op.expect_statuses,
                        what,
                    )?;
                } else {
                    let objects: Vec<(String, Vec<(String, String)>)> = op
                        .objects
                        .iter()
                        .map(|(id, a)| (ids.translate(id).into_owned(), ids.translate_attrs(a)))
                        .collect();
                    driver.submit(
                        op.op,
                        &key,
                        &ids.translate_attrs(&op.attrs),
                        &objects,
                        &op.expect,
                        &op.expect_statuses,
                        what,
                    )?;
                }
                progress();
            }
            Step::Sleep { .. } if opts.no_sleep => sleeps_skipped += 1,
            Step::Sleep { ms, .. } => {
                driver.settle()?;
                std::thread::sleep(Duration::from_millis(*ms));
                sleeps += 1;
                slept_ms += ms;
            }
        }
    }
    let (summary, client) = driver.finish()?;
    Ok((
        ReplayReport {
            summary,
            sleeps,
            slept_ms,
            sleeps_skipped,
            passed_over: rec.passed_over(),
            ids,
            answers,
        },
        client,
    ))
}

/// Reads and parses the recording at `file`, then (only if it parses: a bad
/// file is refused before a channel is needed) opens the client with `open`
/// and replays it (see [`replay`]): `window` requests in flight at most,
/// `timeout` for each answer. `progress` is told the number of requests the
/// file holds, then called once for each request sent.
pub fn replay_file(
    file: &Path,
    open: impl FnOnce() -> anyhow::Result<Client>,
    mode: Mode,
    window: usize,
    timeout: Duration,
    opts: ReplayOptions,
    mut progress: impl FnMut(Progress),
) -> anyhow::Result<(ReplayReport, Client)> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let recording = sairing_rec::parse(&text).with_context(|| file.display().to_string())?;
    let client = open()?;
    progress(Progress::Total(recording.requests().count() as u64));
    replay(
        Driver::new(client, mode, window, timeout),
        &recording,
        &file.display().to_string(),
        opts,
        || progress(Progress::Sent),
    )
}

/// What [`replay_file`] tells its progress callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The number of requests the recording holds (once, first).
    Total(u64),
    /// One more request sent.
    Sent,
}
