//! The channels `compare` measures, one module each, and [`Channel`], the
//! name of each one that has a consumer in another process: those are the
//! rows of the restart matrix, and what `--restart-only` and the internal
//! `apply` subcommand take.
//!
//! Each module has what its latency row needs (the server this binary is
//! re-executed as, and a client implementing
//! [`Measured`](sairing_benches::measure::Measured)), and what its restart row
//! needs (a consumer that applies numbered requests into an
//! [`AppliedLog`], and a [`Producer`]). sairing's latency rows and the floors
//! are in the library, shared with `chanbench`; rtrb is between two threads,
//! so it has no restart row.

use std::path::Path;

use clap::builder::PossibleValue;
use clap::ValueEnum;

use crate::restart::{AppliedLog, Producer};

pub mod grpc;
pub mod redis_list;
pub mod redis_streams;
pub mod rtrb;
pub mod sairing;
pub mod uds;
pub mod zmq;

/// A channel with its consumer in another process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// sairing's channel (consumer doing what syncd does on a restart).
    Sairing,
    /// SONiC's Redis list channel (ProducerTable / ConsumerTable).
    RedisList,
    /// Redis Streams with a consumer group.
    RedisStreams,
    /// ZeroMQ PUSH/PULL over ipc://.
    Zmq,
    /// gRPC, one unary call per request.
    GrpcUnary,
    /// gRPC, one bidirectional stream.
    GrpcStream,
    /// A plain Unix domain socket.
    Uds,
}

impl Channel {
    /// Every one, in the restart matrix's order.
    pub const ALL: [Channel; 7] = [
        Channel::Sairing,
        Channel::RedisList,
        Channel::RedisStreams,
        Channel::Zmq,
        Channel::GrpcUnary,
        Channel::GrpcStream,
        Channel::Uds,
    ];

    /// Its name on the command line, in the tables and in the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Sairing => "sairing",
            Channel::RedisList => "redis-list",
            Channel::RedisStreams => "redis-streams",
            Channel::Zmq => "zmq",
            Channel::GrpcUnary => "grpc-unary",
            Channel::GrpcStream => "grpc-stream",
            Channel::Uds => "uds",
        }
    }

    /// Where a restart run's consumer listens (set up in `dir` where it is a
    /// file): a channel directory, a socket path, an address, or for Redis
    /// the URL of the run's redis-server.
    pub fn restart_target(self, dir: &Path, redis_url: &str) -> anyhow::Result<String> {
        Ok(match self {
            Channel::Sairing => sairing::restart_target(dir)?,
            Channel::RedisList | Channel::RedisStreams => redis_url.to_owned(),
            Channel::Zmq => dir.join("zmq.ipc").to_string_lossy().into_owned(),
            Channel::GrpcUnary | Channel::GrpcStream => grpc::restart_target()?,
            Channel::Uds => dir.join("uds.sock").to_string_lossy().into_owned(),
        })
    }

    /// The restart matrix's consumer (the `apply` subcommand): takes numbered
    /// requests from `target` and applies them into `log`, until killed.
    pub fn consume(self, target: &str, log: AppliedLog) -> anyhow::Result<()> {
        match self {
            Channel::Sairing => sairing::consume(target, log),
            Channel::RedisList => redis_list::consume(target, log),
            Channel::RedisStreams => redis_streams::consume(target, log),
            Channel::Zmq => zmq::consume(target, log),
            Channel::GrpcUnary | Channel::GrpcStream => grpc::serve(target, Some(log)),
            Channel::Uds => uds::consume(target, log),
        }
    }

    /// The restart matrix's producer, sending to `target`.
    pub fn producer(self, target: &str) -> anyhow::Result<Box<dyn Producer>> {
        Ok(match self {
            Channel::Sairing => Box::new(sairing::Producer::open(target)?),
            Channel::RedisList => Box::new(redis_list::Producer::open(target)?),
            Channel::RedisStreams => Box::new(redis_streams::Producer::open(target)?),
            Channel::Zmq => Box::new(zmq::Producer::open(target)?),
            Channel::GrpcUnary => Box::new(grpc::UnaryProducer::open(target)?),
            Channel::GrpcStream => Box::new(grpc::StreamProducer::open(target)?),
            Channel::Uds => Box::new(uds::Producer::new(target)),
        })
    }

    /// Once a restart run's consumer is stopped: removes what it left
    /// behind that a later run would read (the Redis keys).
    pub fn clean_up(self, target: &str) -> anyhow::Result<()> {
        match self {
            Channel::RedisList => redis_list::clean_up(target),
            Channel::RedisStreams => redis_streams::clean_up(target),
            Channel::Sairing
            | Channel::Zmq
            | Channel::GrpcUnary
            | Channel::GrpcStream
            | Channel::Uds => Ok(()),
        }
    }
}

impl ValueEnum for Channel {
    fn value_variants<'a>() -> &'a [Self] {
        &Channel::ALL
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(self.name()))
    }
}
