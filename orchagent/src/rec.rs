//! `sairedis.rec` recordings (sonic-sairedis `lib/Recorder.cpp`):
//! `<YYYY-MM-DD.HH:MM:SS.uuuuuu>|<op>|<key>|<attr>=<value>|...`.
//!
//! Requests are `c`/`r`/`s`/`g` (create, remove, set, get), `C`/`R`/`S`/`B` (bulk
//! create/remove/set/get: `<ts>|C|<OBJECT_TYPE>||<id>|<a>=<v>|...||<id>|...`) and
//! `a` (notify syncd: INIT_VIEW, APPLY_VIEW, ...). `E|<status>` after a request is
//! its non-success answer. Everything else (`G`, `A`, `n`, `#`, `q`, `Q`, `p`,
//! `f`, `F`) is a response, a notification or a comment, and is not sent.

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
