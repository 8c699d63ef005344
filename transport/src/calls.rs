//! What a client's call is and gives back: the mode that says which calls wait,
//! the response and the notification (copied out of the ring), and the outcome
//! of a call that may not have waited.

use crate::codec::{self, Op};

/// Which calls wait for their answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Every call waits for its answer (sairedis' synchronous mode).
    #[default]
    Sync,
    /// create/set/remove return at once and their failures are collected
    /// ([`Client::take_failures`]); get, notify and flush still wait
    /// (sairedis' asynchronous mode).
    Async,
    /// [`Client::execute`] never waits, not even for a get: it returns the
    /// sequence number, and every answer is kept until it is taken by sequence
    /// number ([`Client::wait_for`]) or in order ([`Client::next_completion`]).
    /// ([`Client::get`] and [`Client::notify_syncd`] return the answer, so they
    /// wait in every mode.)
    Pipelined,
}

impl Mode {
    /// Its name (`sync`, `async`, `pipelined`).
    pub fn name(self) -> &'static str {
        match self {
            Mode::Sync => "sync",
            Mode::Async => "async",
            Mode::Pipelined => "pipelined",
        }
    }

    /// Whether a call of `op` waits for its answer in this mode.
    ///
    /// ```
    /// use sairing_transport::{Mode, Op};
    /// assert!(Mode::Sync.waits_for(Op::Set));
    /// assert!(Mode::Async.waits_for(Op::Get) && !Mode::Async.waits_for(Op::Set));
    /// assert!(!Mode::Pipelined.waits_for(Op::Get));
    /// ```
    pub fn waits_for(self, op: Op) -> bool {
        match self {
            Mode::Sync => true,
            Mode::Async => matches!(op, Op::Get | Op::BulkGet | Op::Notify | Op::Flush),
            Mode::Pipelined => false,
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Mode {
    type Err = String;

    /// `sync`, `async` or `pipelined`.
    fn from_str(s: &str) -> std::result::Result<Mode, String> {
        [Mode::Sync, Mode::Async, Mode::Pipelined]
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| format!("unknown mode {s:?}: sync, async or pipelined"))
    }
}

/// A response, copied out of the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The op it answers.
    pub op: Op,
    /// The sequence number of the request it answers.
    pub seq: u64,
    /// `SAI_STATUS_SUCCESS`, ...
    pub status: String,
    /// The attributes a get returned.
    pub attrs: Vec<(String, String)>,
    /// One status per object of a bulk request.
    pub statuses: Vec<String>,
}

impl Response {
    /// Whether the status is `SAI_STATUS_SUCCESS`.
    pub fn is_success(&self) -> bool {
        self.status == codec::STATUS_SUCCESS
    }
}

/// A notification from the server, copied out of the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// `port_state_change`, ...
    pub name: String,
    /// JSON.
    pub payload: String,
}

/// What a call gave back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The response (sync mode, and get/notify in every mode).
    Done(Response),
    /// Sent; the response comes later (async and pipelined modes).
    Sent(u64),
}
