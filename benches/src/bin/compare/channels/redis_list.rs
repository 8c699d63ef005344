//! SONiC's Redis channel rebuilt as SONiC builds it: a Lua script LPUSHes
//! key, values and op onto a list and PUBLISHes a wakeup; the consumer, woken
//! by its subscription, pops a batch and writes the ASIC_STATE hashes in one
//! Lua script; responses come back through a response queue and channel.

use std::time::Duration;

use sairing_benches::measure::{self, Measured, Reexec, Stats};

use crate::harness::{FLUSH, GET, SET};
use crate::restart::{self, AppliedLog};

const REQ_QUEUE: &str = "ASIC_STATE_KEY_VALUE_OP_QUEUE";
const REQ_CHANNEL: &str = "ASIC_STATE_CHANNEL";
const RESP_QUEUE: &str = "GETRESPONSE_KEY_VALUE_OP_QUEUE";
const RESP_CHANNEL: &str = "GETRESPONSE_CHANNEL";

/// ProducerTable's script: push key, values and op; publish a wakeup.
const PRODUCE: &str =
    "redis.call('LPUSH', KEYS[1], ARGV[1], ARGV[2], ARGV[3]); redis.call('PUBLISH', KEYS[2], 'G')";

/// ConsumerTable's pop, with the ASIC_STATE writes in the same script: take up
/// to ARGV[1] entries from the tail (oldest first), trim them, and for a set
/// write its field/value pairs into the object's hash. Returns the entries.
const CONSUME: &str = r#"
local n = tonumber(ARGV[1]) * 3
local r = redis.call('LRANGE', KEYS[1], -n, -1)
if #r == 0 then return r end
redis.call('LTRIM', KEYS[1], 0, -#r - 1)
for i = #r, 1, -3 do
  local key, values, op = r[i], r[i - 1], r[i - 2]
  if op == 'Sset' then
    local fv = cjson.decode(values)
    for j = 1, #fv, 2 do redis.call('HSET', 'ASIC_STATE:' .. key, fv[j], fv[j + 1]) end
  end
end
return r
"#;

/// A request as SONiC's Redis channels carry it: key, values (JSON) and op.
pub fn kv(op: u8) -> (String, String, &'static str) {
    let key = "SAI_OBJECT_TYPE_ROUTE_ENTRY:{\"dest\":\"10.0.0.0/24\",\"switch_id\":\"oid:0x21000000000000\"}".to_owned();
    let values = r#"["SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID","oid:0x40000000000a1"]"#.to_owned();
    let op = match op {
        GET => "Sget",
        SET => "Sset",
        _ => "Sflush",
    };
    (key, values, op)
}

/// The latency row's consumer (`serve-redis-list`), answering as syncd does.
pub fn serve(url: String) -> anyhow::Result<()> {
    measure::pin(1);
    let client = redis::Client::open(url.as_str())?;
    let mut sub = client.get_connection()?;
    let mut con = client.get_connection()?;
    let consume = redis::Script::new(CONSUME);
    let produce = redis::Script::new(PRODUCE);
    let mut ps = sub.as_pubsub();
    ps.subscribe(REQ_CHANNEL)?;
    println!("ready");
    loop {
        let _msg = ps.get_message()?;
        loop {
            let r: Vec<String> = consume.key(REQ_QUEUE).arg(128).invoke(&mut con)?;
            if r.is_empty() {
                break;
            }
            for i in (0..r.len()).step_by(3).rev() {
                let (op, key) = (&r[i], &r[i + 2]);
                if op != "Sset" {
                    // The response, as syncd sends it: through its own queue and channel.
                    produce
                        .key(RESP_QUEUE)
                        .key(RESP_CHANNEL)
                        .arg(key)
                        .arg("SAI_STATUS_SUCCESS")
                        .arg("getresponse")
                        .invoke::<()>(&mut con)?;
                }
            }
        }
    }
}

/// The latency row's producer, as orchagent's ProducerTable.
struct Client<'a> {
    con: redis::Connection,
    /// Subscribed to the response channel.
    responses: redis::PubSub<'a>,
    produce: redis::Script,
    /// Takes the whole response queue.
    pop: redis::Script,
}

impl Client<'_> {
    fn call(&mut self, op: u8) -> redis::RedisResult<()> {
        let (k, v, o) = kv(op);
        self.produce
            .key(REQ_QUEUE)
            .key(REQ_CHANNEL)
            .arg(k)
            .arg(v)
            .arg(o)
            .invoke(&mut self.con)
    }

    fn wait_response(&mut self) -> anyhow::Result<()> {
        loop {
            self.responses.get_message()?;
            let r: Vec<String> = self.pop.key(RESP_QUEUE).invoke(&mut self.con)?;
            if !r.is_empty() {
                return Ok(());
            }
        }
    }
}

impl Measured for Client<'_> {
    fn round_trip(&mut self) -> anyhow::Result<()> {
        self.call(GET)?;
        self.wait_response()
    }

    /// Sets, pipelined 128 at a time as ProducerTable's batches are.
    fn one_way(&mut self, messages: u64) -> anyhow::Result<()> {
        let (k, v, o) = kv(SET);
        let mut left = messages;
        while left > 0 {
            let n = left.min(128);
            let mut p = redis::pipe();
            for _ in 0..n {
                p.cmd("EVALSHA")
                    .arg(self.produce.get_hash())
                    .arg(2)
                    .arg(REQ_QUEUE)
                    .arg(REQ_CHANNEL)
                    .arg(&k)
                    .arg(&v)
                    .arg(o)
                    .ignore();
            }
            if let Err(e) = p.query::<()>(&mut self.con) {
                // The script is not cached yet: load it and try again.
                self.produce.prepare_invoke().load(&mut self.con)?;
                if !e.to_string().contains("NOSCRIPT") {
                    return Err(e.into());
                }
                continue;
            }
            left -= n;
        }
        self.call(FLUSH)?;
        self.wait_response()
    }
}

/// The `redis-list` row.
pub fn measure(url: &str, samples: u64, messages: u64) -> anyhow::Result<Stats> {
    let _server = Reexec::start(&["serve-redis-list", url])?;
    let client = redis::Client::open(url)?;
    let con = client.get_connection()?;
    let mut sub = client.get_connection()?;
    let mut responses = sub.as_pubsub();
    responses.subscribe(RESP_CHANNEL)?;
    responses.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut client = Client {
        con,
        responses,
        produce: redis::Script::new(PRODUCE),
        pop: redis::Script::new(
            "local r = redis.call('LRANGE', KEYS[1], 0, -1); redis.call('DEL', KEYS[1]); return r",
        ),
    };
    measure::run("redis-list", &mut client, samples, messages)
}

/// The restart matrix's consumer, as SONiC's ConsumerTable: pops a batch
/// (LRANGE + LTRIM in one script), then applies it.
pub fn consume(url: &str, mut log: AppliedLog) -> anyhow::Result<()> {
    let client = redis::Client::open(url)?;
    let mut sub = client.get_connection()?;
    let mut con = client.get_connection()?;
    let pop = redis::Script::new("local r = redis.call('LRANGE', KEYS[1], -ARGV[1], -1); if #r > 0 then redis.call('LTRIM', KEYS[1], 0, -#r - 1) end; return r");
    let mut ps = sub.as_pubsub();
    ps.subscribe(REQ_CHANNEL)?;
    ps.set_read_timeout(Some(Duration::from_millis(20)))?;
    println!("ready");
    loop {
        let r: Vec<u64> = pop.key(REQ_QUEUE).arg(128).invoke(&mut con)?;
        if r.is_empty() {
            let _ = ps.get_message();
            continue;
        }
        let nums: Vec<u64> = r.into_iter().rev().collect();
        log.apply(&nums)?;
    }
}

/// The restart matrix's producer: LPUSH of the number, and a wakeup.
pub struct Producer {
    con: redis::Connection,
    produce: redis::Script,
}

impl Producer {
    /// Connects to the redis-server at `url`.
    pub fn open(url: &str) -> anyhow::Result<Producer> {
        Ok(Producer {
            con: redis::Client::open(url)?.get_connection()?,
            produce: redis::Script::new(
                "redis.call('LPUSH', KEYS[1], ARGV[1]); redis.call('PUBLISH', KEYS[2], 'G')",
            ),
        })
    }
}

impl restart::Producer for Producer {
    fn send(&mut self, n: u64) -> anyhow::Result<()> {
        self.produce
            .key(REQ_QUEUE)
            .key(REQ_CHANNEL)
            .arg(n)
            .invoke::<()>(&mut self.con)?;
        Ok(())
    }
}

/// Deletes the restart run's queue (what the consumer had not taken).
pub fn clean_up(url: &str) -> anyhow::Result<()> {
    let mut con = redis::Client::open(url)?.get_connection()?;
    let _: () = redis::cmd("DEL").arg(REQ_QUEUE).query(&mut con)?;
    Ok(())
}
