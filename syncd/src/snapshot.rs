//! Reading every `ASIC_STATE:*` hash out of Redis, fast, for a warm start.
//!
//! A general client builds a value tree for every reply and a string for
//! every field; over 900,000 objects that took most of a warm start (issue
//! 16: SCAN 2.3 s, HGETALL 6.8 s on 2 cores). This reader speaks the few
//! RESP2 replies it needs on a socket of its own and puts each hash straight
//! into the [`Store`], and keeps Redis busy while it parses: it asks for the
//! next SCAN batch and the hashes of the batch just listed before it reads
//! the hashes of the batch before.
//!
//! Redis's replies are input like any other: a reply that is not what the
//! command returns, a field that is not UTF-8, or a length beyond what was
//! asked is an error naming what was wrong, never a panic.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use redis::{ConnectionAddr, IntoConnectionInfo};

use crate::asic_db::{MirrorError, ASIC_STATE};
use crate::store::Store;

/// Keys per SCAN reply asked for (Redis's default, 10, made 90,000 round
/// trips of 900,000 objects).
const SCAN_COUNT: &str = "10000";

/// Most elements reserved for up front, whatever an array's length says
/// (the rest as they arrive).
const RESERVE_MAX: usize = 1024;
/// The most objects the store is made with room for before they are read
/// (16 bytes each in its table).
const PRESIZE_MAX: usize = 1 << 21;

/// Longest bulk string accepted in a reply (Redis's own limit is 512 MB; an
/// attribute value of a SAI object is far below this one).
const MAX_BULK: usize = 64 << 20;

/// What a load did, for the warm start's report.
#[derive(Debug, Clone, Default)]
pub struct Loaded {
    /// SCAN round trips.
    pub scans: u64,
    /// Keys listed (a key listed twice by SCAN counts twice).
    pub listed: u64,
    /// How long it took.
    pub elapsed: Duration,
}

/// Every `ASIC_STATE:*` hash of the database `url` names, by key (without
/// the prefix); `NULL`/`NULL` is "no attributes".
pub fn load(url: &str) -> Result<(Store, Loaded), MirrorError> {
    let t = Instant::now();
    let bad = |what: String| MirrorError::Bad {
        url: url.to_owned(),
        what,
    };
    let info = url
        .into_connection_info()
        .map_err(|e| bad(format!("not a redis url: {e}")))?;
    let timeout = Some(Duration::from_secs(60));
    let (r, w): (Box<dyn Read>, Box<dyn Write>) = match &info.addr {
        ConnectionAddr::Tcp(host, port) => {
            let addr = (host.as_str(), *port)
                .to_socket_addrs()
                .ok()
                .and_then(|mut a| a.next())
                .ok_or_else(|| bad(format!("no address for {host}:{port}")))?;
            let s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))
                .map_err(|e| bad(format!("connecting: {e}")))?;
            s.set_read_timeout(timeout).ok();
            s.set_write_timeout(timeout).ok();
            s.set_nodelay(true).ok();
            let w = s.try_clone().map_err(|e| bad(e.to_string()))?;
            (Box::new(s), Box::new(w))
        }
        ConnectionAddr::Unix(path) => {
            let s = UnixStream::connect(path).map_err(|e| bad(format!("connecting: {e}")))?;
            s.set_read_timeout(timeout).ok();
            s.set_write_timeout(timeout).ok();
            let w = s.try_clone().map_err(|e| bad(e.to_string()))?;
            (Box::new(s), Box::new(w))
        }
        other => {
            return Err(bad(format!(
                "a warm start reads redis over TCP or a Unix socket, not {other}"
            )))
        }
    };
    let mut c = Resp {
        r: BufReader::with_capacity(1 << 20, r),
        w,
        out: Vec::new(),
        line: Vec::new(),
    };
    let mut loaded = Loaded::default();
    let store = c.load(&info.redis, &mut loaded).map_err(|e| match e {
        Fail::Io(e) => bad(format!("reading the state: {e}")),
        Fail::Bad(what) => bad(what),
    })?;
    loaded.elapsed = t.elapsed();
    Ok((store, loaded))
}

enum Fail {
    Io(io::Error),
    Bad(String),
}

impl From<io::Error> for Fail {
    fn from(e: io::Error) -> Fail {
        Fail::Io(e)
    }
}

fn bad<T>(what: impl Into<String>) -> Result<T, Fail> {
    Err(Fail::Bad(what.into()))
}

struct Resp {
    r: BufReader<Box<dyn Read>>,
    w: Box<dyn Write>,
    /// Commands queued, written at once.
    out: Vec<u8>,
    line: Vec<u8>,
}

impl Resp {
    fn load(&mut self, rc: &redis::RedisConnectionInfo, n: &mut Loaded) -> Result<Store, Fail> {
        if let Some(pw) = &rc.password {
            match &rc.username {
                Some(u) => self.cmd(&[b"AUTH", u.as_bytes(), pw.as_bytes()]),
                None => self.cmd(&[b"AUTH", pw.as_bytes()]),
            }
        }
        let db = rc.db.to_string();
        self.cmd(&[b"SELECT", db.as_bytes()]);
        self.cmd(&[b"DBSIZE"]);
        let pattern = format!("{ASIC_STATE}*");
        let scan = |c: &mut Resp, cursor: &[u8]| {
            c.cmd(&[
                b"SCAN",
                cursor,
                b"MATCH",
                pattern.as_bytes(),
                b"COUNT",
                SCAN_COUNT.as_bytes(),
            ])
        };
        scan(self, b"0");
        self.flush()?;
        if rc.password.is_some() {
            self.ok("AUTH")?;
        }
        self.ok("SELECT")?;
        // A SCAN of the whole keyspace takes about one call per COUNT slots
        // of the table (at most twice the keys, twice again while Redis
        // rehashes); a cursor that has not come back to 0 by far more is not
        // Redis's.
        let dbsize = match self.head()? {
            (b':', n) => std::str::from_utf8(n)
                .ok()
                .and_then(|n| n.parse::<u64>().ok()),
            _ => None,
        };
        let Some(dbsize) = dbsize else {
            return bad("DBSIZE: a reply that is not a number");
        };
        let max_scans = 4 * dbsize / SCAN_COUNT.parse::<u64>().unwrap_or(1) + 1000;
        // Room for what Redis says it holds (growing the table rehashes every
        // key, each written out), up to a bound: DBSIZE is Redis's word.
        let mut store = Store::with_capacity((dbsize as usize).min(PRESIZE_MAX));
        // Keys whose HGETALLs are sent and whose replies are not read yet.
        let mut pending: Vec<String> = Vec::new();
        let mut fields = Fields::default();
        loop {
            let (cursor, keys) = self.scan_reply()?;
            n.scans += 1;
            if n.scans > max_scans {
                return bad(format!(
                    "SCAN: {} calls over a database of {dbsize} keys, and the cursor is not back to 0",
                    n.scans
                ));
            }
            n.listed += keys.len() as u64;
            let more = cursor != b"0";
            if more {
                scan(self, &cursor);
            }
            for k in &keys {
                self.cmd(&[b"HGETALL", k.as_bytes()]);
            }
            self.flush()?;
            // Redis works on what was just sent while these are parsed.
            for k in pending.drain(..) {
                self.hash(&k, &mut fields, &mut store)?;
            }
            pending = keys;
            if !more {
                break;
            }
        }
        for k in pending.drain(..) {
            self.hash(&k, &mut fields, &mut store)?;
        }
        Ok(store)
    }

    fn cmd(&mut self, args: &[&[u8]]) {
        self.out
            .extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            self.out
                .extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            self.out.extend_from_slice(a);
            self.out.extend_from_slice(b"\r\n");
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.w.write_all(&self.out)?;
        self.w.flush()?;
        self.out.clear();
        Ok(())
    }

    /// The next reply's first line: its type byte and the rest. An error
    /// reply is an error.
    fn head(&mut self) -> Result<(u8, &[u8]), Fail> {
        self.line.clear();
        let n = (&mut self.r).take(1024).read_until(b'\n', &mut self.line)?;
        if n == 0 {
            return Err(Fail::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        if !self.line.ends_with(b"\r\n") || self.line.len() < 3 {
            return bad(format!(
                "a reply line {:?} of {n} bytes",
                String::from_utf8_lossy(&self.line)
            ));
        }
        let body = &self.line[1..self.line.len() - 2];
        if self.line[0] == b'-' {
            return bad(format!("redis answered: {}", String::from_utf8_lossy(body)));
        }
        Ok((self.line[0], body))
    }

    /// A reply's length line of type `t` (`*` array, `$` bulk string): the
    /// length, or `None` for a null.
    fn len(&mut self, t: u8, what: &str) -> Result<Option<usize>, Fail> {
        let (got, body) = self.head()?;
        if got != t {
            return bad(format!(
                "{what}: a reply of type {:?}, not {:?}",
                got as char, t as char
            ));
        }
        if body == b"-1" {
            return Ok(None);
        }
        let n = std::str::from_utf8(body)
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|n| *n <= MAX_BULK);
        match n {
            Some(n) => Ok(Some(n)),
            None => bad(format!(
                "{what}: a length of {:?}",
                String::from_utf8_lossy(body)
            )),
        }
    }

    fn ok(&mut self, what: &str) -> Result<(), Fail> {
        match self.head()? {
            (b'+', _) => Ok(()),
            (t, _) => bad(format!("{what}: a reply of type {:?}, not OK", t as char)),
        }
    }

    /// One bulk string, appended to `into`.
    fn bulk(&mut self, into: &mut Vec<u8>, what: &str) -> Result<(), Fail> {
        let Some(n) = self.len(b'$', what)? else {
            return bad(format!("{what}: a null string"));
        };
        let at = into.len();
        into.resize(at + n + 2, 0);
        self.r.read_exact(&mut into[at..])?;
        if !into.ends_with(b"\r\n") {
            return bad(format!(
                "{what}: a string of {n} bytes not followed by CRLF"
            ));
        }
        into.truncate(at + n);
        Ok(())
    }

    /// SCAN's reply: the next cursor, and the keys.
    fn scan_reply(&mut self) -> Result<(Vec<u8>, Vec<String>), Fail> {
        if self.len(b'*', "SCAN")? != Some(2) {
            return bad("SCAN: a reply that is not [cursor, keys]");
        }
        let mut cursor = Vec::new();
        self.bulk(&mut cursor, "SCAN's cursor")?;
        let Some(n) = self.len(b'*', "SCAN's keys")? else {
            return bad("SCAN: a null list of keys");
        };
        let mut keys = Vec::with_capacity(n.min(RESERVE_MAX));
        let mut buf = Vec::new();
        for _ in 0..n {
            buf.clear();
            self.bulk(&mut buf, "SCAN's key")?;
            match String::from_utf8(buf.clone()) {
                Ok(k) if k.starts_with(ASIC_STATE) => keys.push(k),
                _ => {
                    return bad(format!(
                        "SCAN listed {:?}, which is not an {ASIC_STATE} key",
                        String::from_utf8_lossy(&buf)
                    ))
                }
            }
        }
        Ok((cursor, keys))
    }

    /// HGETALL `key`'s reply, into the store (a key gone meanwhile is
    /// skipped).
    fn hash(&mut self, key: &str, f: &mut Fields, store: &mut Store) -> Result<(), Fail> {
        let len = self.len(b'*', key)?.unwrap_or(0);
        if len == 0 {
            // The key was listed, and is gone: a FLUSHDB or another writer
            // during the load. What was read is no state at one instant.
            return bad(format!(
                "HGETALL {key}: the key is gone; Redis changed while the warm start read it"
            ));
        }
        if len % 2 != 0 {
            return bad(format!(
                "HGETALL {key}: {len} strings, not name/value pairs"
            ));
        }
        f.bytes.clear();
        f.ends.clear();
        for _ in 0..len {
            self.bulk(&mut f.bytes, key)?;
            f.ends.push(f.bytes.len());
        }
        let text = match std::str::from_utf8(&f.bytes) {
            Ok(t) => t,
            Err(_) => return bad(format!("HGETALL {key}: a field that is not UTF-8")),
        };
        let mut strs = Vec::with_capacity(len.min(RESERVE_MAX));
        let mut at = 0;
        for &end in &f.ends {
            match text.get(at..end) {
                Some(s) => strs.push(s),
                None => return bad(format!("HGETALL {key}: a field that is not UTF-8")),
            }
            at = end;
        }
        let attrs = strs
            .chunks_exact(2)
            .map(|p| (p[0], p[1]))
            .filter(|(n, v)| !(*n == "NULL" && *v == "NULL"));
        store.put(&key[ASIC_STATE.len()..], attrs);
        Ok(())
    }
}

/// One hash's strings, end to end, and where each ends (reused).
#[derive(Default)]
struct Fields {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}
