//! The state a `sairedis.rec` recording implies, folded straight from its
//! lines and SONiC's ASIC_DB schema, with none of syncd's or the replay's code:
//! the independent answer that a replay's Redis is checked against (the
//! conformance step, the end-to-end tests).
//!
//! - create sets the object's attributes (creating the SWITCH again merges);
//! - set merges its attributes (an object never created gets a state: it is a
//!   switch-owned default);
//! - remove deletes;
//! - a request answered by an `E` line changes nothing; for a bulk request,
//!   `E|<status>||<status 1>|<status 2>|...` names the objects that failed
//!   (without per-object statuses, every object failed);
//! - gets, notifies, flushes, notifications, queries, comments and sleeps
//!   change nothing;
//! - an object without attributes is `NULL`/`NULL`;
//! - the first create of the SWITCH makes the default objects it discovers
//!   (the ones the caller names: [`fold_recording_on`]), without attributes.

use std::collections::{BTreeMap, HashMap};

use crate::ids::OidMap;

/// Objects by key (`SAI_OBJECT_TYPE_<T>:<id>`), each with its attributes.
pub type State = HashMap<String, BTreeMap<String, String>>;

type Attrs = Vec<(String, String)>;

/// A state-changing operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// create
    Create,
    /// set
    Set,
    /// remove
    Remove,
}

/// Folds (change, key, attributes) in order, on a switch that discovers no
/// default objects.
pub fn fold(ops: impl IntoIterator<Item = (Change, String, Vec<(String, String)>)>) -> State {
    fold_with(ops, &[])
}

/// Folds (change, key, attributes) in order; the first create of the SWITCH
/// also makes `defaults` (the keys of the objects the switch discovers), with
/// no attributes.
pub fn fold_with(
    ops: impl IntoIterator<Item = (Change, String, Vec<(String, String)>)>,
    defaults: &[String],
) -> State {
    let mut st: State = HashMap::new();
    for (op, key, attrs) in ops {
        match op {
            Change::Create if key.starts_with("SAI_OBJECT_TYPE_SWITCH:") => {
                if !st.contains_key(&key) {
                    for d in defaults {
                        st.entry(d.clone()).or_default();
                    }
                }
                st.entry(key).or_default().extend(attrs)
            }
            Change::Create => {
                st.insert(key, attrs.into_iter().collect());
            }
            Change::Set => st.entry(key).or_default().extend(attrs),
            Change::Remove => {
                st.remove(&key);
            }
        }
    }
    for v in st.values_mut() {
        if v.is_empty() {
            v.insert("NULL".into(), "NULL".into());
        }
    }
    st
}

fn pairs(fields: &[&str]) -> Vec<(String, String)> {
    fields
        .iter()
        .filter_map(|x| x.split_once('='))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
}

/// The fold of a recording's text on a switch that discovers `defaults` when
/// it is created, with the recording's ids read through `ids` (the replay's
/// map of the recorded switch's default objects onto this one's).
pub fn fold_recording_on(text: &str, defaults: &[String], ids: &OidMap) -> State {
    // Each change, and whether it took effect.
    let mut ops: Vec<(Change, String, Attrs, bool)> = Vec::new();
    // The changes of the last request, which an `E` line may undo.
    let mut last = 0..0;
    for (n, line) in text.lines().enumerate() {
        // As the replay sent it: with the ids learned before this line.
        let line = ids.translate_before(line, n + 1);
        let line = line.as_ref();
        let f: Vec<&str> = line.split('|').collect();
        if f.len() < 3 {
            continue;
        }
        let change = match f[1] {
            "c" | "C" => Some(Change::Create),
            "s" | "S" => Some(Change::Set),
            "r" | "R" => Some(Change::Remove),
            _ => None,
        };
        match (f[1], change) {
            ("c" | "s" | "r", Some(c)) => {
                last = ops.len()..ops.len() + 1;
                ops.push((c, f[2].to_owned(), pairs(&f[3..]), true));
            }
            ("C" | "S" | "R", Some(c)) => {
                let start = ops.len();
                let rest = line.split_once("||").map_or("", |x| x.1);
                for obj in rest.split("||") {
                    let p: Vec<&str> = obj.split('|').collect();
                    ops.push((c, format!("{}:{}", f[2], p[0]), pairs(&p[1..]), true));
                }
                last = start..ops.len();
            }
            ("g" | "B" | "a" | "f", _) => last = ops.len()..ops.len(),
            ("E", _) => {
                let per: Vec<&str> = line
                    .split_once("||")
                    .map(|(_, p)| p.split('|').filter(|s| !s.is_empty()).collect())
                    .unwrap_or_default();
                for (i, op) in ops[last.clone()].iter_mut().enumerate() {
                    op.3 = per
                        .get(i)
                        .is_some_and(|s| *s == sairing_transport::codec::STATUS_SUCCESS);
                }
            }
            _ => {}
        }
    }
    fold_with(
        ops.into_iter().filter(|o| o.3).map(|o| (o.0, o.1, o.2)),
        defaults,
    )
}

/// `None` when equal; otherwise what differs (counts, and the first few keys
/// of each kind).
pub fn diff(got: &State, want: &State) -> Option<String> {
    if got == want {
        return None;
    }
    let first = |mut v: Vec<&String>| {
        v.sort();
        let n = v.len();
        v.truncate(3);
        format!("{n} {v:?}")
    };
    let missing = first(want.keys().filter(|k| !got.contains_key(*k)).collect());
    let extra = first(got.keys().filter(|k| !want.contains_key(*k)).collect());
    let differ = first(
        want.iter()
            .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
            .map(|(k, _)| k)
            .collect(),
    );
    let mut differing: Vec<&String> = want
        .iter()
        .filter(|(k, v)| got.get(*k).is_some_and(|g| g != *v))
        .map(|(k, _)| k)
        .collect();
    differing.sort();
    let example = differing.first().map_or(String::new(), |k| {
        format!("; {k} is {:?}, expected {:?}", got[*k], want[*k])
    });
    Some(format!(
        "{} objects, expected {}; missing {missing}, extra {extra}, differing {differ}{example}",
        got.len(),
        want.len()
    ))
}

/// How many objects of each type (`QUEUE`, `ROUTE_ENTRY`, ...) `state` holds.
pub fn per_type(state: &State) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for k in state.keys() {
        let t = k
            .strip_prefix("SAI_OBJECT_TYPE_")
            .and_then(|r| r.split(':').next())
            .unwrap_or(k);
        *m.entry(t.to_owned()).or_default() += 1;
    }
    m
}

/// Redis's `ASIC_STATE:*` hashes as a [`State`] (`NULL`/`NULL` kept).
pub fn redis_state(con: &mut redis::Connection) -> redis::RedisResult<State> {
    use redis::Commands;
    let keys: Vec<String> = con.scan_match::<_, String>("ASIC_STATE:*")?.collect();
    let mut st = State::new();
    for k in keys {
        let h: BTreeMap<String, String> = con.hgetall(&k)?;
        st.insert(k["ASIC_STATE:".len()..].to_owned(), h);
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(s: &[(&str, &str)]) -> BTreeMap<String, String> {
        s.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn failures_change_nothing_and_bulk_failures_only_their_objects() {
        let text = "\
t|c|SAI_OBJECT_TYPE_VLAN:oid:0x1|SAI_VLAN_ATTR_VLAN_ID=2
t|c|SAI_OBJECT_TYPE_VLAN:oid:0x1|SAI_VLAN_ATTR_VLAN_ID=3
t|E|SAI_STATUS_ITEM_ALREADY_EXISTS
t|n|port_state_change|[]|
t|C|SAI_OBJECT_TYPE_ROUTE_ENTRY||{\"d\":1}|A=1||{\"d\":2}|A=2
t|E|SAI_STATUS_FAILURE||SAI_STATUS_SUCCESS|SAI_STATUS_ITEM_ALREADY_EXISTS
t|C|SAI_OBJECT_TYPE_ROUTE_ENTRY||{\"d\":3}
t|E|SAI_STATUS_FAILURE
t|s|SAI_OBJECT_TYPE_PORT:oid:0x2|SAI_PORT_ATTR_MTU=9100
t|g|SAI_OBJECT_TYPE_PORT:oid:0x2|SAI_PORT_ATTR_MTU=0
t|E|SAI_STATUS_FAILURE
t|c|SAI_OBJECT_TYPE_SWITCH:oid:0x21|A=1
t|c|SAI_OBJECT_TYPE_SWITCH:oid:0x21|B=2
t|c|SAI_OBJECT_TYPE_STP:oid:0x5
t|r|SAI_OBJECT_TYPE_STP:oid:0x5
t|c|SAI_OBJECT_TYPE_HASH:oid:0x6
";
        let st = fold_recording_on(text, &[], &OidMap::default());
        let want: State = [
            (
                "SAI_OBJECT_TYPE_VLAN:oid:0x1",
                attrs(&[("SAI_VLAN_ATTR_VLAN_ID", "2")]),
            ),
            (
                "SAI_OBJECT_TYPE_ROUTE_ENTRY:{\"d\":1}",
                attrs(&[("A", "1")]),
            ),
            (
                "SAI_OBJECT_TYPE_PORT:oid:0x2",
                attrs(&[("SAI_PORT_ATTR_MTU", "9100")]),
            ),
            (
                "SAI_OBJECT_TYPE_SWITCH:oid:0x21",
                attrs(&[("A", "1"), ("B", "2")]),
            ),
            ("SAI_OBJECT_TYPE_HASH:oid:0x6", attrs(&[("NULL", "NULL")])),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(diff(&st, &want), None, "{st:?}");
        let mut other = want.clone();
        other.remove("SAI_OBJECT_TYPE_HASH:oid:0x6");
        let d = diff(&st, &other).unwrap();
        assert!(d.contains("extra 1"), "{d}");
    }
}
