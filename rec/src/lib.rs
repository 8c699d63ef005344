//! # sairing-rec
//!
//! `sairedis.rec` recordings (sonic-sairedis `lib/Recorder.cpp`):
//! `<YYYY-MM-DD.HH:MM:SS.uuuuuu>|<op>|<key>|<attr>=<value>|...`.
//!
//! [`parse`] accepts every line that sonic-sairedis's `saiplayer` accepts, and
//! sorts each into what a replay does with it:
//!
//! | letter | line | replay |
//! |---|---|---|
//! | `c` `r` `s` `g` | create, remove, set, get | sent |
//! | `C` `R` `S` `B` | bulk create/remove/set/get: `<ts>\|C\|<OBJECT_TYPE>\|\|<id>\|<a>=<v>\|...\|\|<id>\|...` | sent |
//! | `a` | notify syncd (INIT_VIEW, APPLY_VIEW, ...) | sent |
//! | `f` | FDB flush | sent |
//! | `E` | non-success answer of the request before it (`E\|<status>`, bulk: `E\|<status>\|\|<status>\|...`) | becomes that request's expected status |
//! | `G` `A` `F` | get, notify and flush answers | read, not sent (a get's values are the switch's, not checked) |
//! | `@` | sleep: `<ts>\|@\|<milliseconds>` | a [`Step::Sleep`] |
//! | `n` | notification from syncd | passed over, counted |
//! | `q` `Q` | query and its answer (capabilities, availability, stats) | passed over, counted |
//! | `p` | counter polling | passed over, counted |
//! | `T` | sairedis's synchronous response timeout | passed over, counted (replay has its own timeout) |
//! | `#` | comment | passed over, counted |
//!
//! saiplayer passes over `q`, `p`, `Q`, `n` and `#` too. Any other letter is a
//! [`ParseError`] naming the line.

#![deny(missing_docs)]

use std::collections::BTreeMap;

use sairing_transport::Op;

/// One request of a recording.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecOp {
    /// 1-based line number in the file.
    pub line: usize,
    /// The operation.
    pub op: Op,
    /// The key (non-bulk), the object type (bulk), or the notify name.
    pub key: String,
    /// Attributes (non-bulk).
    pub attrs: Vec<(String, String)>,
    /// Objects (bulk): id and attributes.
    pub objects: Vec<(String, Vec<(String, String)>)>,
    /// The status the recording says it got.
    pub expect: String,
    /// For a bulk request answered by an `E` line: the status of each object.
    /// Empty when the recording says nothing per object.
    pub expect_statuses: Vec<String>,
    /// For a get answered by a `G` line: the attributes the recorded switch
    /// returned (a replay learns from them which of its objects the
    /// recording's ids name).
    pub returned: Vec<(String, String)>,
}

/// What a replay does, in the recording's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Send a request.
    Request(RecOp),
    /// Wait: an `@` line.
    Sleep {
        /// 1-based line number.
        line: usize,
        /// Milliseconds.
        ms: u64,
    },
}

/// A parsed recording.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recording {
    /// Requests and sleeps, in order.
    pub steps: Vec<Step>,
    /// How many lines of each op letter the file has (every non-empty line).
    pub lines: BTreeMap<char, u64>,
}

/// The letters a replay passes over without acting on them.
pub const PASSED_OVER: &[char] = &['#', 'n', 'q', 'Q', 'p', 'T'];

impl Recording {
    /// The requests, without the sleeps.
    pub fn requests(&self) -> impl Iterator<Item = &RecOp> {
        self.steps.iter().filter_map(|s| match s {
            Step::Request(r) => Some(r),
            Step::Sleep { .. } => None,
        })
    }

    /// Lines passed over, by letter (only letters that occur).
    pub fn passed_over(&self) -> BTreeMap<char, u64> {
        self.lines
            .iter()
            .filter(|(c, _)| PASSED_OVER.contains(c))
            .map(|(c, n)| (*c, *n))
            .collect()
    }

    /// The sleeps' total, in milliseconds.
    pub fn sleep_ms(&self) -> u64 {
        self.steps
            .iter()
            .map(|s| match s {
                Step::Sleep { ms, .. } => *ms,
                Step::Request(_) => 0,
            })
            .sum()
    }
}

/// A line that is not in the format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {what}: {text}")]
pub struct ParseError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub what: &'static str,
    /// The line (cut to 120 bytes).
    pub text: String,
}

fn attrs_of(fields: &[&str], line: usize, text: &str) -> Result<Vec<(String, String)>, ParseError> {
    fields
        .iter()
        .filter(|f| !f.is_empty())
        .map(|f| {
            f.split_once('=')
                .map(|(n, v)| (n.to_owned(), v.to_owned()))
                .ok_or_else(|| ParseError {
                    line,
                    what: "attribute without '='",
                    text: cut(text),
                })
        })
        .collect()
}

fn cut(s: &str) -> String {
    s.chars().take(120).collect()
}

/// Parses a whole recording.
pub fn parse(text: &str) -> Result<Recording, ParseError> {
    let mut rec = Recording::default();
    // Index in `rec.steps` of the last request, for the `E` line that may follow.
    let mut last: Option<usize> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim_end_matches('\r');
        if l.is_empty() {
            continue;
        }
        let err = |what| ParseError {
            line,
            what,
            text: cut(l),
        };
        let fields: Vec<&str> = l.split('|').collect();
        let letter = match fields.get(1).map(|f| f.as_bytes()) {
            Some(&[b]) if b.is_ascii_graphic() => char::from(b),
            Some(_) => return Err(err("the op field is not one letter")),
            None => return Err(err("no '|'-separated op field")),
        };
        let need_key = |what| {
            fields
                .get(2)
                .filter(|k| !k.is_empty())
                .map(|k| k.to_string())
                .ok_or_else(|| err(what))
        };
        let simple = |op: Op, key: String, attrs: Vec<(String, String)>| RecOp {
            line,
            op,
            key,
            attrs,
            objects: Vec::new(),
            expect: sairing_transport::codec::STATUS_SUCCESS.into(),
            expect_statuses: Vec::new(),
            returned: Vec::new(),
        };
        let request = match letter {
            'c' | 'r' | 's' | 'g' => {
                let op = match letter {
                    'c' => Op::Create,
                    'r' => Op::Remove,
                    's' => Op::Set,
                    _ => Op::Get,
                };
                let key = need_key("request without a key")?;
                let attrs = attrs_of(&fields[3..], line, l)?;
                Some(simple(op, key, attrs))
            }
            'a' => Some(simple(
                Op::Notify,
                need_key("notify without a name")?,
                Vec::new(),
            )),
            'f' => {
                let key = need_key("flush without a key")?;
                let attrs = attrs_of(&fields[3..], line, l)?;
                Some(simple(Op::Flush, key, attrs))
            }
            'C' | 'R' | 'S' | 'B' => {
                let op = match letter {
                    'C' => Op::BulkCreate,
                    'R' => Op::BulkRemove,
                    'S' => Op::BulkSet,
                    _ => Op::BulkGet,
                };
                let ty = need_key("bulk request without an object type")?;
                let prefix_len = fields[0].len() + 1 + fields[1].len() + 1 + ty.len();
                let rest = l[prefix_len..]
                    .strip_prefix("||")
                    .ok_or_else(|| err("bulk request without '||' before its first object"))?;
                let mut objects = Vec::new();
                for obj in rest.split("||") {
                    let parts: Vec<&str> = obj.split('|').collect();
                    if parts[0].is_empty() {
                        return Err(err("bulk object without an id"));
                    }
                    objects.push((parts[0].to_owned(), attrs_of(&parts[1..], line, l)?));
                }
                Some(RecOp {
                    objects,
                    ..simple(op, ty, Vec::new())
                })
            }
            'E' => {
                let status = need_key("failure answer without a status")?;
                let Some(Step::Request(prev)) = last.and_then(|i| rec.steps.get_mut(i)) else {
                    return Err(err("failure answer with no request before it"));
                };
                prev.expect = status;
                if prev.op.is_bulk() {
                    // `E|<status>||<status 1>|<status 2>|...`
                    prev.expect_statuses = l
                        .split_once("||")
                        .map(|(_, per)| {
                            per.split('|')
                                .filter(|s| !s.is_empty())
                                .map(str::to_owned)
                                .collect()
                        })
                        .unwrap_or_default();
                }
                None
            }
            '@' => {
                let ms = fields
                    .get(2)
                    .and_then(|f| f.trim().parse::<u32>().ok())
                    .ok_or_else(|| err("sleep without a number of milliseconds"))?;
                rec.steps.push(Step::Sleep {
                    line,
                    ms: u64::from(ms),
                });
                None
            }
            'G' => {
                // A get's answer: kept with the get (a bulk get's is not).
                if let Some(Step::Request(prev)) = last.and_then(|i| rec.steps.get_mut(i)) {
                    if prev.op == Op::Get && fields.len() > 3 {
                        prev.returned = attrs_of(&fields[3..], line, l)?;
                    }
                }
                None
            }
            'A' | 'F' => None,
            c if PASSED_OVER.contains(&c) => None,
            _ => return Err(err("unknown op letter")),
        };
        *rec.lines.entry(letter).or_default() += 1;
        if let Some(r) = request {
            last = Some(rec.steps.len());
            rec.steps.push(Step::Request(r));
        }
    }
    Ok(rec)
}

/// A timestamp in the recordings' form, `YYYY-MM-DD.HH:MM:SS.uuuuuu` (UTC).
pub fn timestamp(t: std::time::SystemTime) -> String {
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}.{:02}:{:02}:{:02}.{:06}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_micros()
    )
}

/// A recording is one request per line: a line break inside a field is
/// written as `\n` or `\r`, so that a value can never end its line early or
/// forge the lines after it. (Such a line does not read back exactly; see
/// [`text_is_exact`].)
fn one_line(line: String) -> String {
    if line.contains(['\n', '\r']) {
        line.replace('\n', "\\n").replace('\r', "\\r")
    } else {
        line
    }
}

fn push_attrs<'a>(line: &mut String, attrs: impl Iterator<Item = (&'a str, &'a str)>) {
    for (n, v) in attrs {
        line.push('|');
        line.push_str(n);
        line.push('=');
        line.push_str(v);
    }
}

/// A request as a recording line (`c`, `r`, `s`, `g`, `C`, `R`, `S`, `B`, `a`, `f`).
pub fn request_line(ts: &str, req: &sairing_transport::Request<'_>) -> String {
    let letter = match req.op {
        Op::Create => "c",
        Op::Remove => "r",
        Op::Set => "s",
        Op::Get => "g",
        Op::BulkCreate => "C",
        Op::BulkRemove => "R",
        Op::BulkSet => "S",
        Op::BulkGet => "B",
        Op::Notify => "a",
        Op::Flush => "f",
        Op::Notification => "n",
    };
    let mut line = format!("{ts}|{letter}|{}", req.key);
    if req.op.is_bulk() {
        for (id, attrs) in req.objects.clone() {
            line.push_str("||");
            line.push_str(id);
            push_attrs(&mut line, attrs);
        }
    } else {
        push_attrs(&mut line, req.attrs.clone());
    }
    one_line(line)
}

/// Whether `line` (the request's [`request_line`]) carries `req` exactly: it
/// parses back to the same operation, key, attributes and objects. It does not
/// when a field holds a `|` or a line break, a name an `=`, or the request has a
/// shape the format cannot write (a bulk call with no objects, an empty key or
/// id). sairedis' own recorder writes such requests as they are, and cannot
/// read them back either.
pub fn text_is_exact(req: &sairing_transport::Request<'_>, line: &str) -> bool {
    let Ok(parsed) = parse(line) else {
        return false;
    };
    let mut steps = parsed.steps.into_iter();
    let (Some(Step::Request(r)), None) = (steps.next(), steps.next()) else {
        return false;
    };
    let same_attrs = |mine: &[(String, String)], theirs: sairing_transport::codec::Attrs<'_>| {
        mine.len() == theirs.len()
            && mine
                .iter()
                .zip(theirs)
                .all(|((n, v), (tn, tv))| n == tn && v == tv)
    };
    r.op == req.op
        && r.key == req.key
        && same_attrs(&r.attrs, req.attrs.clone())
        && r.objects.len() == req.objects.len()
        && r.objects
            .iter()
            .zip(req.objects.clone())
            .all(|((id, a), (tid, ta))| id == tid && same_attrs(a, ta))
}

/// A response as a recording line, as sairedis records them: `G` for a get,
/// `A` for a notify, `F` for a flush, `E` for any other non-success (a bulk
/// call's with the status of each object: `E|<status>||<status 1>|...`);
/// `None` for a plain success.
pub fn response_line<'a>(
    ts: &str,
    op: Op,
    status: &str,
    attrs: impl Iterator<Item = (&'a str, &'a str)>,
    statuses: &[&str],
) -> Option<String> {
    let letter = match op {
        Op::Get | Op::BulkGet => "G",
        Op::Notify => "A",
        Op::Flush => "F",
        _ if status != sairing_transport::codec::STATUS_SUCCESS => "E",
        _ => return None,
    };
    let mut line = format!("{ts}|{letter}|{status}");
    push_attrs(&mut line, attrs);
    if letter == "E" && !statuses.is_empty() {
        line.push('|');
        for s in statuses {
            line.push('|');
            line.push_str(s);
        }
    }
    Some(one_line(line))
}

/// A notification as a recording line (`n`).
pub fn notification_line(ts: &str, name: &str, payload: &str) -> String {
    one_line(format!("{ts}|n|{name}|{payload}|"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requests(text: &str) -> Vec<RecOp> {
        parse(text).unwrap().requests().cloned().collect()
    }

    #[test]
    fn parses_each_kind_of_line() {
        let text = "\
2017-06-14.01:55:46.541806|#|recording on: ./sairedis.rec
2017-06-14.01:55:46.543987|a|INIT_VIEW
2017-06-14.01:55:46.551164|A|SAI_STATUS_SUCCESS
2017-06-14.01:55:46.551337|c|SAI_OBJECT_TYPE_SWITCH:oid:0x21000000000000|SAI_SWITCH_ATTR_INIT_SWITCH=true|SAI_SWITCH_ATTR_SRC_MAC_ADDRESS=00:11:11:11:11:11
2017-06-14.01:55:46.559177|g|SAI_OBJECT_TYPE_SWITCH:oid:0x21000000000000|SAI_SWITCH_ATTR_DEFAULT_VIRTUAL_ROUTER_ID=oid:0x0
2017-06-14.01:56:05.500382|G|SAI_STATUS_SUCCESS|SAI_SWITCH_ATTR_DEFAULT_VIRTUAL_ROUTER_ID=oid:0x3000000000022
2017-06-14.01:56:11.535437|r|SAI_OBJECT_TYPE_VLAN_MEMBER:oid:0x27000000000467
2017-06-14.01:56:11.535440|E|SAI_STATUS_ITEM_NOT_FOUND
2017-06-14.01:56:12.000000|C|SAI_OBJECT_TYPE_ROUTE_ENTRY||{\"dest\":\"10.0.0.0/24\"}|SAI_ROUTE_ENTRY_ATTR_PACKET_ACTION=SAI_PACKET_ACTION_DROP||{\"dest\":\"10.0.1.0/24\"}
2017-06-14.01:56:12.000001|E|SAI_STATUS_FAILURE||SAI_STATUS_SUCCESS|SAI_STATUS_ITEM_ALREADY_EXISTS
2017-06-14.01:56:09.393251|n|port_state_change|[{\"port_id\":\"oid:0x1000000000002\"}]|
2017-06-14.01:56:13.000000|@|25
2017-06-14.01:56:14.000000|f|SAI_OBJECT_TYPE_FDB_FLUSH:oid:0x21000000000000|SAI_FDB_FLUSH_ATTR_ENTRY_TYPE=SAI_FDB_FLUSH_ENTRY_TYPE_DYNAMIC
2017-06-14.01:56:14.000100|F|SAI_STATUS_SUCCESS
2017-06-14.01:56:15.000000|q|attribute_capability|SAI_OBJECT_TYPE_SWITCH:oid:0x21000000000000|OBJECT_TYPE=SAI_OBJECT_TYPE_PORT
2017-06-14.01:56:15.000100|Q|attribute_capability|SAI_STATUS_SUCCESS|CREATE_IMP=true
2017-06-14.01:56:16.000000|p|SAI_OBJECT_TYPE_PORT:oid:0x1000000000002|PORT_COUNTER_ID_LIST=SAI_PORT_STAT_IF_IN_OCTETS
2017-06-14.01:56:17.000000|T|SYNC_OPERATION_RESPONSE_TIMEOUT=60000
";
        let rec = parse(text).unwrap();
        let ops: Vec<&RecOp> = rec.requests().collect();
        assert_eq!(ops.len(), 6);
        assert_eq!((ops[0].op, ops[0].key.as_str()), (Op::Notify, "INIT_VIEW"));
        assert_eq!(ops[1].attrs.len(), 2);
        assert_eq!(
            ops[1].attrs[1],
            (
                "SAI_SWITCH_ATTR_SRC_MAC_ADDRESS".into(),
                "00:11:11:11:11:11".into()
            )
        );
        assert_eq!(ops[2].op, Op::Get);
        assert_eq!(
            (ops[3].op, ops[3].expect.as_str()),
            (Op::Remove, "SAI_STATUS_ITEM_NOT_FOUND")
        );
        assert!(ops[3].expect_statuses.is_empty());
        assert_eq!(ops[4].op, Op::BulkCreate);
        assert_eq!(ops[4].objects.len(), 2);
        assert_eq!(ops[4].objects[0].1.len(), 1);
        assert!(ops[4].objects[1].1.is_empty());
        assert_eq!(ops[4].expect, "SAI_STATUS_FAILURE");
        assert_eq!(
            ops[4].expect_statuses,
            ["SAI_STATUS_SUCCESS", "SAI_STATUS_ITEM_ALREADY_EXISTS"]
        );
        assert_eq!(ops[3].line, 7);
        assert_eq!((ops[5].op, ops[5].attrs.len()), (Op::Flush, 1));
        // The sleep sits between the bulk create and the flush.
        assert_eq!(rec.steps[5], Step::Sleep { line: 12, ms: 25 });
        assert_eq!(rec.sleep_ms(), 25);
        let over: Vec<(char, u64)> = rec.passed_over().into_iter().collect();
        assert_eq!(
            over,
            [('#', 1), ('Q', 1), ('T', 1), ('n', 1), ('p', 1), ('q', 1)]
        );
        assert_eq!(rec.lines.values().sum::<u64>(), 18);
    }

    #[test]
    fn formats_round_trip_through_the_parser() {
        use sairing_transport::codec::{
            decode_request, encode_request, request_len, Body, BulkObject,
        };
        let ts = timestamp(
            std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_542_224_406_358_201),
        );
        assert_eq!(ts, "2018-11-14.19:40:06.358201");
        let a = [("SAI_PORT_ATTR_MTU", "9100")];
        let objs = [BulkObject {
            id: "{\"dest\":\"10.0.0.0/24\"}",
            attrs: &a[..],
        }];
        for (op, key, body) in [
            (Op::Set, "SAI_OBJECT_TYPE_PORT:oid:0x1", Body::Attrs(&a[..])),
            (
                Op::BulkCreate,
                "SAI_OBJECT_TYPE_ROUTE_ENTRY",
                Body::Bulk(&objs[..]),
            ),
            (Op::Notify, "INIT_VIEW", Body::Attrs(&[][..])),
        ] {
            let mut b = vec![0; request_len(key, &body)];
            encode_request(&mut b, op, 1, 1, key, &body).unwrap();
            let line = request_line(&ts, &decode_request(&b, 1).unwrap());
            let parsed = requests(&line);
            assert_eq!((parsed[0].op, parsed[0].key.as_str()), (op, key), "{line}");
        }
        assert_eq!(
            response_line(&ts, Op::Get, "SAI_STATUS_SUCCESS", a.iter().copied(), &[]).unwrap(),
            format!("{ts}|G|SAI_STATUS_SUCCESS|SAI_PORT_ATTR_MTU=9100")
        );
        assert_eq!(
            response_line(
                &ts,
                Op::Create,
                "SAI_STATUS_SUCCESS",
                std::iter::empty(),
                &[]
            ),
            None
        );
        assert_eq!(
            response_line(
                &ts,
                Op::Remove,
                "SAI_STATUS_ITEM_NOT_FOUND",
                std::iter::empty(),
                &[]
            )
            .unwrap(),
            format!("{ts}|E|SAI_STATUS_ITEM_NOT_FOUND")
        );
        // A failed bulk call's line carries each object's status, and parses
        // back into the request's expectations.
        let line = response_line(
            &ts,
            Op::BulkCreate,
            "SAI_STATUS_FAILURE",
            std::iter::empty(),
            &["SAI_STATUS_SUCCESS", "SAI_STATUS_ITEM_ALREADY_EXISTS"],
        )
        .unwrap();
        assert_eq!(
            line,
            format!("{ts}|E|SAI_STATUS_FAILURE||SAI_STATUS_SUCCESS|SAI_STATUS_ITEM_ALREADY_EXISTS")
        );
        let text = format!("{ts}|C|SAI_OBJECT_TYPE_ROUTE_ENTRY||{{}}||{{\"a\":1}}\n{line}\n");
        let back = requests(&text);
        assert_eq!(
            back[0].expect_statuses,
            ["SAI_STATUS_SUCCESS", "SAI_STATUS_ITEM_ALREADY_EXISTS"]
        );
    }

    #[test]
    fn bad_lines_name_their_line() {
        let e = parse("x|c|SAI_OBJECT_TYPE_PORT:oid:0x1|NOEQUALS\n").unwrap_err();
        assert_eq!((e.line, e.what), (1, "attribute without '='"));
        let e = parse("ok|#|c\nx|z|what\n").unwrap_err();
        assert_eq!((e.line, e.what), (2, "unknown op letter"));
        assert_eq!(e.text, "x|z|what");
        let e = parse("x|c|\n").unwrap_err();
        assert_eq!(e.what, "request without a key");
        let e = parse("x|@|soon\n").unwrap_err();
        assert_eq!(e.what, "sleep without a number of milliseconds");
        let e = parse("x|#|a\nx|E|SAI_STATUS_FAILURE\n").unwrap_err();
        assert_eq!(
            (e.line, e.what),
            (2, "failure answer with no request before it")
        );
        let e = parse("x|cc|SAI_OBJECT_TYPE_PORT:oid:0x1\n").unwrap_err();
        assert_eq!(e.what, "the op field is not one letter");
        let e = parse("no separator\n").unwrap_err();
        assert_eq!(e.what, "no '|'-separated op field");
        let e = parse("x|C|SAI_OBJECT_TYPE_ROUTE_ENTRY|{}\n").unwrap_err();
        assert_eq!(e.what, "bulk request without '||' before its first object");
    }

    #[test]
    fn parses_the_projects_recordings() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../testdata/recordings");
        let mut seen = 0;
        for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|x| x == "rec") {
                let text = std::fs::read_to_string(&path).unwrap();
                let rec = parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                assert!(rec.requests().count() > 0, "{}", path.display());
                seen += 1;
            }
        }
        assert!(seen >= 10, "only {seen} recordings in {dir}");
    }
}
