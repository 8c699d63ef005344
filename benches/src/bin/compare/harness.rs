//! The latency table's runs: the request every channel carries, and every
//! channel measured in the table's order. The warm-up-then-record loop and
//! the [`Measured`](sairing_benches::measure::Measured) trait each channel's
//! client implements are in the library (`measure::run`), shared with
//! `chanbench`.

use sairing_benches::measure::{self, Stats};

use crate::channels::{grpc, redis_list, redis_streams, rtrb, uds, zmq};

// The request kinds every channel carries, as the request's first byte.
/// A get: answered.
pub const GET: u8 = b'g';
/// A set: one-way, not answered.
pub const SET: u8 = b's';
/// A flush: answered once everything before it has been consumed.
pub const FLUSH: u8 = b'f';

/// The request every non-sairing channel carries: 128 bytes, shaped like the
/// sairing codec's (an op byte, a key, one attribute).
pub fn message(op: u8) -> Vec<u8> {
    let mut m = vec![b'x'; 128];
    m[0] = op;
    let key = b"SAI_OBJECT_TYPE_ROUTE_ENTRY:{\"dest\":\"10.0.0.0/24\"}|SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID=oid:0x40000000000a1";
    m[1..1 + key.len()].copy_from_slice(key);
    m
}

/// Every channel: `samples` round trips each, after a warm-up, and `messages`
/// one-way requests (`slow_messages` for Redis and gRPC). sairing's busy-poll
/// row comes first (the table's ratios are to it), the floors last.
pub fn latency_runs(
    redis_url: &str,
    samples: u64,
    messages: u64,
    slow_messages: u64,
) -> anyhow::Result<Vec<Stats>> {
    // The floors first (as chanbench does), then sairing, then the others.
    let floors = [
        measure::floor_spin(samples)?,
        measure::floor_eventfd(samples)?,
    ];
    let mut runs = vec![
        measure::sairing_mode("sairing-spin", u64::MAX, samples, messages)?,
        measure::sairing_mode("sairing-eventfd", 0, samples, messages)?,
    ];
    runs.push(redis_list::measure(redis_url, samples, slow_messages)?);
    runs.push(redis_streams::measure(redis_url, samples, slow_messages)?);
    runs.push(zmq::measure(samples, messages)?);
    let (unary, stream) = grpc::measure(samples, slow_messages)?;
    runs.push(unary);
    runs.push(stream);
    runs.push(uds::measure(samples, messages)?);
    runs.push(rtrb::measure(samples, messages)?);
    runs.extend(floors);
    Ok(runs)
}
