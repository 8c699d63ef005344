//! ASIC_DB as sairing keeps it in Redis: SONiC's schema (`ASIC_STATE:<key>`
//! hashes, `NULL`/`NULL` for an object without attributes) plus sairing's
//! progress record. The schema's names live here, with the few ways to read
//! it back; the mirror writes it.

use std::collections::HashMap;
use std::time::Duration;

use redis::Commands;

use crate::store::Store;

/// Prefix of every object's hash.
pub const ASIC_STATE: &str = "ASIC_STATE:";
/// The progress record's key (a hash with fields `seq` and `ring_id`).
pub const PROGRESS_KEY: &str = "SAIRING_PROGRESS";

/// What the mirror has written, as read back from Redis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The last request sequence number whose effects are in Redis.
    pub seq: u64,
    /// The request ring's identity, hex.
    pub ring_id: String,
}

/// Errors talking to Redis.
#[derive(Debug, thiserror::Error)]
pub enum MirrorError {
    /// Redis said no, or was not there.
    #[error("redis at {url}: {source}")]
    Redis {
        /// Where.
        url: String,
        /// The client's error.
        #[source]
        source: redis::RedisError,
    },
    /// A value in Redis that cannot be ours.
    #[error("redis at {url}: {what}")]
    Bad {
        /// Where.
        url: String,
        /// What is wrong.
        what: String,
    },
}

pub(crate) fn rerr(url: &str) -> impl FnOnce(redis::RedisError) -> MirrorError + '_ {
    move |source| MirrorError::Redis {
        url: url.to_owned(),
        source,
    }
}

/// Connects, with a short timeout so an absent Redis is noticed quickly.
pub fn connect(url: &str) -> Result<redis::Connection, MirrorError> {
    let client = redis::Client::open(url).map_err(rerr(url))?;
    let c = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .map_err(rerr(url))?;
    c.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(rerr(url))?;
    c.set_write_timeout(Some(Duration::from_secs(10)))
        .map_err(rerr(url))?;
    Ok(c)
}

/// Reads the progress record, if any.
pub fn read_progress(
    conn: &mut redis::Connection,
    url: &str,
) -> Result<Option<Progress>, MirrorError> {
    let h: HashMap<String, String> = conn.hgetall(PROGRESS_KEY).map_err(rerr(url))?;
    if h.is_empty() {
        return Ok(None);
    }
    let seq = h
        .get("seq")
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| MirrorError::Bad {
            url: url.to_owned(),
            what: format!("{PROGRESS_KEY} has no valid seq: {h:?}"),
        })?;
    let ring_id = h.get("ring_id").cloned().unwrap_or_default();
    Ok(Some(Progress { seq, ring_id }))
}

/// A hash whose field `signature` is the switch profile the state in Redis
/// was made with ([`crate::profile::Profile::signature`]), written at a cold
/// start and checked at a warm one.
pub const PROFILE_KEY: &str = "SAIRING_PROFILE";

/// The field of [`PROFILE_KEY`] that holds the signature.
pub const PROFILE_FIELD: &str = "signature";

/// Records the profile a cold start makes its switch with.
pub fn write_profile(
    conn: &mut redis::Connection,
    url: &str,
    signature: &str,
) -> Result<(), MirrorError> {
    conn.hset::<_, _, _, ()>(PROFILE_KEY, PROFILE_FIELD, signature)
        .map_err(rerr(url))
}

/// The profile the state in Redis was made with, if recorded.
pub fn read_profile(
    conn: &mut redis::Connection,
    url: &str,
) -> Result<Option<String>, MirrorError> {
    conn.hget(PROFILE_KEY, PROFILE_FIELD).map_err(rerr(url))
}

/// Every `ASIC_STATE:*` hash, by key (without the prefix); `NULL`/`NULL` is
/// "no attributes". Read by [`crate::snapshot`], which also says how.
pub fn load_state(url: &str) -> Result<Store, MirrorError> {
    crate::snapshot::load(url).map(|(s, _)| s)
}
