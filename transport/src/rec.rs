//! `sairedis.rec` recordings (sonic-sairedis `lib/Recorder.cpp`):
//! `<YYYY-MM-DD.HH:MM:SS.uuuuuu>|<op>|<key>|<attr>=<value>|...`.
//!
//! Requests are `c`/`r`/`s`/`g` (create, remove, set, get), `C`/`R`/`S`/`B` (bulk
//! create/remove/set/get: `<ts>|C|<OBJECT_TYPE>||<id>|<a>=<v>|...||<id>|...`) and
//! `a` (notify syncd: INIT_VIEW, APPLY_VIEW, ...). `E|<status>` after a request is
//! its non-success answer. Everything else (`G`, `A`, `n`, `#`, `q`, `Q`, `p`,
//! `f`, `F`) is a response, a notification or a comment, and is not sent.

use crate::Op;

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

/// Parses a whole recording into the requests it contains.
pub fn parse(text: &str) -> Result<Vec<RecOp>, ParseError> {
    let mut out: Vec<RecOp> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim_end_matches('\r');
        if l.is_empty() {
            continue;
        }
        let fields: Vec<&str> = l.split('|').collect();
        if fields.len() < 2 {
            return Err(ParseError {
                line,
                what: "no '|'-separated op field",
                text: cut(l),
            });
        }
        let need_key = |what| {
            fields
                .get(2)
                .filter(|k| !k.is_empty())
                .map(|k| k.to_string())
                .ok_or(ParseError {
                    line,
                    what,
                    text: cut(l),
                })
        };
        let simple = |op: Op, key: String, attrs: Vec<(String, String)>| RecOp {
            line,
            op,
            key,
            attrs,
            objects: Vec::new(),
            expect: "SAI_STATUS_SUCCESS".into(),
        };
        match fields[1] {
            "c" | "r" | "s" | "g" => {
                let op = match fields[1] {
                    "c" => Op::Create,
                    "r" => Op::Remove,
                    "s" => Op::Set,
                    _ => Op::Get,
                };
                let key = need_key("request without a key")?;
                let attrs = attrs_of(&fields[3..], line, l)?;
                out.push(simple(op, key, attrs));
            }
            "a" => out.push(simple(
                Op::Notify,
                need_key("notify without a name")?,
                Vec::new(),
            )),
            "C" | "R" | "S" | "B" => {
                let op = match fields[1] {
                    "C" => Op::BulkCreate,
                    "R" => Op::BulkRemove,
                    "S" => Op::BulkSet,
                    _ => Op::BulkGet,
                };
                let ty = need_key("bulk request without an object type")?;
                let prefix_len = fields[0].len() + 1 + fields[1].len() + 1 + ty.len();
                let rest = l[prefix_len..].strip_prefix("||").ok_or(ParseError {
                    line,
                    what: "bulk request without '||' before its first object",
                    text: cut(l),
                })?;
                let mut objects = Vec::new();
                for obj in rest.split("||") {
                    let parts: Vec<&str> = obj.split('|').collect();
                    if parts[0].is_empty() {
                        return Err(ParseError {
                            line,
                            what: "bulk object without an id",
                            text: cut(l),
                        });
                    }
                    objects.push((parts[0].to_owned(), attrs_of(&parts[1..], line, l)?));
                }
                out.push(RecOp {
                    objects,
                    ..simple(op, ty, Vec::new())
                });
            }
            "E" => {
                if let (Some(prev), Some(status)) = (out.last_mut(), fields.get(2)) {
                    prev.expect = (*status).to_owned();
                }
            }
            "G" | "A" | "n" | "#" | "q" | "Q" | "p" | "f" | "F" => {}
            _ => {
                return Err(ParseError {
                    line,
                    what: "unknown op letter",
                    text: cut(l),
                })
            }
        }
    }
    Ok(out)
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

fn push_attrs<'a>(line: &mut String, attrs: impl Iterator<Item = (&'a str, &'a str)>) {
    for (n, v) in attrs {
        line.push('|');
        line.push_str(n);
        line.push('=');
        line.push_str(v);
    }
}

/// A request as a recording line (`c`, `r`, `s`, `g`, `C`, `R`, `S`, `B`, `a`, `f`).
pub fn request_line(ts: &str, req: &crate::Request<'_>) -> String {
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
    line
}

/// A response as a recording line, as sairedis records them: `G` for a get,
/// `A` for a notify, `E` for any other non-success; `None` for a plain success.
pub fn response_line<'a>(
    ts: &str,
    op: Op,
    status: &str,
    attrs: impl Iterator<Item = (&'a str, &'a str)>,
) -> Option<String> {
    let letter = match op {
        Op::Get | Op::BulkGet => "G",
        Op::Notify => "A",
        _ if status != "SAI_STATUS_SUCCESS" => "E",
        _ => return None,
    };
    let mut line = format!("{ts}|{letter}|{status}");
    push_attrs(&mut line, attrs);
    Some(line)
}

/// A notification as a recording line (`n`).
pub fn notification_line(ts: &str, name: &str, payload: &str) -> String {
    format!("{ts}|n|{name}|{payload}|")
}

#[cfg(test)]
mod tests {
    use super::*;

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
2017-06-14.01:56:09.393251|n|port_state_change|[{\"port_id\":\"oid:0x1000000000002\"}]|
";
        let ops = parse(text).unwrap();
        assert_eq!(ops.len(), 5);
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
        assert_eq!(ops[4].op, Op::BulkCreate);
        assert_eq!(ops[4].objects.len(), 2);
        assert_eq!(ops[4].objects[0].1.len(), 1);
        assert!(ops[4].objects[1].1.is_empty());
        assert_eq!(ops[3].line, 7);
    }

    #[test]
    fn formats_round_trip_through_the_parser() {
        use crate::codec::{decode_request, encode_request, request_len, Body, BulkObject};
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
            encode_request(&mut b, op, 1, 1, key, &body);
            let line = request_line(&ts, &decode_request(&b, 1).unwrap());
            let parsed = parse(&line).unwrap();
            assert_eq!((parsed[0].op, parsed[0].key.as_str()), (op, key), "{line}");
        }
        assert_eq!(
            response_line(&ts, Op::Get, "SAI_STATUS_SUCCESS", a.iter().copied()).unwrap(),
            format!("{ts}|G|SAI_STATUS_SUCCESS|SAI_PORT_ATTR_MTU=9100")
        );
        assert_eq!(
            response_line(&ts, Op::Create, "SAI_STATUS_SUCCESS", std::iter::empty()),
            None
        );
        assert_eq!(
            response_line(
                &ts,
                Op::Remove,
                "SAI_STATUS_ITEM_NOT_FOUND",
                std::iter::empty()
            )
            .unwrap(),
            format!("{ts}|E|SAI_STATUS_ITEM_NOT_FOUND")
        );
    }

    #[test]
    fn bad_lines_name_their_line() {
        let e = parse("x|c|SAI_OBJECT_TYPE_PORT:oid:0x1|NOEQUALS\n").unwrap_err();
        assert_eq!((e.line, e.what), (1, "attribute without '='"));
        let e = parse("ok|#|c\nx|z|what\n").unwrap_err();
        assert_eq!((e.line, e.what), (2, "unknown op letter"));
        let e = parse("x|c|\n").unwrap_err();
        assert_eq!(e.what, "request without a key");
    }

    #[test]
    fn parses_the_shared_recordings() {
        for (f, min) in [
            ("full.rec", 10_000),
            ("full_syncd_dies.rec", 10_000),
            ("config_acl2.rec", 10_000),
        ] {
            let path = format!(
                "{}/../../shared/rec-samples/{f}",
                env!("CARGO_MANIFEST_DIR")
            );
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
            let ops = parse(&text).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert!(ops.len() > min, "{f}: only {} requests", ops.len());
        }
    }
}
