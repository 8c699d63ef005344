//! Redis Streams: the producer XADDs requests onto a stream, the consumer
//! reads them as a consumer group (XREADGROUP BLOCK) and acknowledges them
//! (XACK); answers come back on a second stream.

use anyhow::Context;
use sairing_benches::measure::{self, Measured, Reexec, Stats};

use super::redis_list;
use crate::harness::SET;
use crate::restart::{self, AppliedLog};

const REQ_STREAM: &str = "sairing:req";
const RESP_STREAM: &str = "sairing:resp";
/// The restart matrix's stream.
const RESTART_STREAM: &str = "restart:req";

/// The latency row's consumer (`serve-redis-streams`): answers everything
/// but sets, which it writes into ASIC_STATE as the list channel's does.
pub fn serve(url: String) -> anyhow::Result<()> {
    measure::pin(1);
    let client = redis::Client::open(url.as_str())?;
    let mut con = client.get_connection()?;
    let _: redis::RedisResult<()> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(REQ_STREAM)
        .arg("syncd")
        .arg("$")
        .arg("MKSTREAM")
        .query(&mut con);
    println!("ready");
    loop {
        let reply: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("syncd")
            .arg("c1")
            .arg("COUNT")
            .arg(128)
            .arg("BLOCK")
            .arg(0)
            .arg("STREAMS")
            .arg(REQ_STREAM)
            .arg(">")
            .query(&mut con)?;
        for key in reply.keys {
            let mut p = redis::pipe();
            for id in &key.ids {
                let op: String = id.get("op").unwrap_or_default();
                let k: String = id.get("key").unwrap_or_default();
                if op == "Sset" {
                    let v: String = id.get("values").unwrap_or_default();
                    p.hset(
                        format!("ASIC_STATE:{k}"),
                        "SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID",
                        v,
                    )
                    .ignore();
                } else {
                    p.cmd("XADD")
                        .arg(RESP_STREAM)
                        .arg("*")
                        .arg("status")
                        .arg("SAI_STATUS_SUCCESS")
                        .ignore();
                }
                p.cmd("XACK")
                    .arg(REQ_STREAM)
                    .arg("syncd")
                    .arg(&id.id)
                    .ignore();
            }
            p.query::<()>(&mut con)?;
        }
    }
}

/// The latency row's producer.
struct Client {
    con: redis::Connection,
    key: String,
    values: String,
    /// The last answer read from the response stream.
    last: String,
}

impl Client {
    /// XADD of one request, as the producer writes it.
    fn xadd(&self, op: &str) -> redis::Cmd {
        let mut c = redis::cmd("XADD");
        c.arg(REQ_STREAM)
            .arg("*")
            .arg("key")
            .arg(&self.key)
            .arg("values")
            .arg(&self.values)
            .arg("op")
            .arg(op);
        c
    }

    fn add(&mut self, op: &str) -> redis::RedisResult<String> {
        self.xadd(op).query(&mut self.con)
    }

    /// Waits for the next answer.
    fn wait(&mut self) -> anyhow::Result<()> {
        let reply: redis::streams::StreamReadReply = redis::cmd("XREAD")
            .arg("COUNT")
            .arg(1)
            .arg("BLOCK")
            .arg(30_000)
            .arg("STREAMS")
            .arg(RESP_STREAM)
            .arg(self.last.as_str())
            .query(&mut self.con)?;
        let id = reply
            .keys
            .first()
            .and_then(|k| k.ids.last())
            .map(|i| i.id.clone());
        self.last = id.context("no response within 30 s")?;
        Ok(())
    }
}

impl Measured for Client {
    fn round_trip(&mut self) -> anyhow::Result<()> {
        self.add("Sget")?;
        self.wait()
    }

    /// Sets, pipelined 128 at a time.
    fn one_way(&mut self, messages: u64) -> anyhow::Result<()> {
        let mut left = messages;
        while left > 0 {
            let n = left.min(128);
            let mut p = redis::pipe();
            for _ in 0..n {
                p.add_command(self.xadd("Sset")).ignore();
            }
            p.query::<()>(&mut self.con)?;
            left -= n;
        }
        self.add("Sflush")?;
        self.wait()
    }
}

/// The `redis-streams` row.
pub fn measure(url: &str, samples: u64, messages: u64) -> anyhow::Result<Stats> {
    let _server = Reexec::start(&["serve-redis-streams", url])?;
    let mut con = redis::Client::open(url)?.get_connection()?;
    let (key, values, _) = redis_list::kv(SET);
    // The response stream's position before the first request.
    let ids: redis::streams::StreamRangeReply = redis::cmd("XREVRANGE")
        .arg(RESP_STREAM)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query(&mut con)?;
    let last = ids.ids.first().map_or("0-0".to_owned(), |i| i.id.clone());
    let mut client = Client {
        con,
        key,
        values,
        last,
    };
    measure::run("redis-streams", &mut client, samples, messages)
}

/// The restart matrix's consumer, a careful one: its own pending entries
/// first (delivered before a crash, never acknowledged), then new ones; XACK
/// after applying.
pub fn consume(url: &str, mut log: AppliedLog) -> anyhow::Result<()> {
    let client = redis::Client::open(url)?;
    let mut con = client.get_connection()?;
    let _: redis::RedisResult<()> = redis::cmd("XGROUP")
        .arg("CREATE")
        .arg(RESTART_STREAM)
        .arg("g")
        .arg("0")
        .arg("MKSTREAM")
        .query(&mut con);
    println!("ready");
    let mut from = "0".to_owned();
    loop {
        let reply: redis::streams::StreamReadReply = redis::cmd("XREADGROUP")
            .arg("GROUP")
            .arg("g")
            .arg("c")
            .arg("COUNT")
            .arg(128)
            .arg("BLOCK")
            .arg(20)
            .arg("STREAMS")
            .arg(RESTART_STREAM)
            .arg(&from)
            .query(&mut con)?;
        let ids: Vec<_> = reply.keys.into_iter().flat_map(|k| k.ids).collect();
        if ids.is_empty() {
            from = ">".into();
            continue;
        }
        let nums: Vec<u64> = ids.iter().map(|i| i.get::<u64>("n").unwrap_or(0)).collect();
        log.apply(&nums)?;
        let mut ack = redis::cmd("XACK");
        ack.arg(RESTART_STREAM).arg("g");
        for i in &ids {
            ack.arg(&i.id);
        }
        ack.query::<()>(&mut con)?;
    }
}

/// The restart matrix's producer: XADD of the number.
pub struct Producer {
    con: redis::Connection,
}

impl Producer {
    /// Connects to the redis-server at `url`.
    pub fn open(url: &str) -> anyhow::Result<Producer> {
        Ok(Producer {
            con: redis::Client::open(url)?.get_connection()?,
        })
    }
}

impl restart::Producer for Producer {
    fn send(&mut self, n: u64) -> anyhow::Result<()> {
        redis::cmd("XADD")
            .arg(RESTART_STREAM)
            .arg("*")
            .arg("n")
            .arg(n)
            .query::<String>(&mut self.con)?;
        Ok(())
    }
}

/// Deletes the restart run's stream, its consumer group with it.
pub fn clean_up(url: &str) -> anyhow::Result<()> {
    let mut con = redis::Client::open(url)?.get_connection()?;
    let _: () = redis::cmd("DEL").arg(RESTART_STREAM).query(&mut con)?;
    Ok(())
}
