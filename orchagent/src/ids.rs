//! The recording's object ids mapped onto the replaying switch's, as
//! saiplayer maps them: the ids of the objects a switch discovers at create
//! (ports, queues, the default router, ...) are the recorded switch's, and a
//! replaying switch numbers its own. A get whose recorded answer names
//! objects (`G|...|SAI_PORT_ATTR_QOS_QUEUE_LIST=20:oid:0x15...,...`) is
//! answered by this switch with its own ids, in the same places: each pair
//! that differs is learned, and every later request, and the recording's
//! fold, are read through the map.

use std::borrow::Cow;
use std::collections::HashMap;

/// Recorded id → this switch's id (`oid:0x...` both), and the line of the
/// recording whose get taught it. An id is mapped once: the first get that
/// names it decides (a later one, such as a scheduler group's children on a
/// switch whose tree differs, could pair it otherwise).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OidMap {
    to: HashMap<String, (String, usize)>,
    /// This switch's ids already taken, and by which recorded id.
    from: HashMap<String, String>,
    /// Pairings refused because this switch's id was already another's.
    conflicts: u64,
}

/// The `oid:0x<hex>` tokens in `s`, in order, with where each starts.
fn tokens(s: &str) -> impl Iterator<Item = (usize, &str)> {
    s.match_indices("oid:0x").map(move |(i, _)| {
        let hex = s[i + 6..].bytes().take_while(u8::is_ascii_hexdigit).count();
        (i, &s[i..i + 6 + hex])
    })
}

impl OidMap {
    /// How many ids map to another id.
    pub fn len(&self) -> usize {
        self.to.iter().filter(|(r, (a, _))| r != &a).count()
    }

    /// Whether none does.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id `recorded` maps to, if it is mapped.
    pub fn get(&self, recorded: &str) -> Option<&str> {
        self.to.get(recorded).map(|(a, _)| a.as_str())
    }

    /// Whether every id `value` names is decided already (mapped, or the
    /// null object): an answer naming only such ids checks the map instead of
    /// teaching it.
    pub fn decides(&self, value: &str) -> bool {
        tokens(value).all(|(_, t)| t == "oid:0x0" || self.to.contains_key(t))
    }

    /// Pairings refused: a recorded id the gets paired with one of this
    /// switch's ids that another recorded id already had (the recorded switch
    /// was not made like this one: another profile).
    pub fn conflicts(&self) -> u64 {
        self.conflicts
    }

    /// Whether any attribute in `attrs` names an object (other than the null
    /// object): a get whose answer the map can learn from.
    pub fn names_objects(attrs: &[(String, String)]) -> bool {
        attrs
            .iter()
            .any(|(_, v)| tokens(v).any(|(_, t)| t != "oid:0x0"))
    }

    /// Learns from a get: `recorded` is the recorded answer, `actual` this
    /// switch's. Ids in the same attribute and position pair up when they
    /// name objects of the same type. Lists of different lengths pair up as
    /// far as the shorter goes: an older vslib listed one more bridge port
    /// (the 1Q router's) last in the 1Q bridge's port list.
    /// `line` is the get's line in the recording.
    pub fn learn(
        &mut self,
        recorded: &[(String, String)],
        actual: &[(String, String)],
        line: usize,
    ) {
        // The object type byte of a VID (bits 55..48).
        let ty = |t: &str| u64::from_str_radix(&t[6..], 16).map_or(u64::MAX, |v| v >> 48 & 0xff);
        for (name, rv) in recorded {
            let Some((_, av)) = actual.iter().find(|(n, _)| n == name) else {
                continue;
            };
            for ((_, r), (_, a)) in tokens(rv).zip(tokens(av)) {
                if r == "oid:0x0" || a == "oid:0x0" || ty(r) != ty(a) || self.to.contains_key(r) {
                    continue;
                }
                // Same ids are kept too: they are decided as well.
                match self.from.get(a) {
                    Some(other) if other != r => self.conflicts += 1,
                    _ => {
                        self.to.insert(r.to_owned(), (a.to_owned(), line));
                        self.from.insert(a.to_owned(), r.to_owned());
                    }
                }
            }
        }
    }

    /// `s` with every mapped id replaced.
    pub fn translate<'s>(&self, s: &'s str) -> Cow<'s, str> {
        self.translate_before(s, usize::MAX)
    }

    /// `s` (line `line` of the recording) with the ids mapped by gets before
    /// it replaced: as the replay sent it.
    pub fn translate_before<'s>(&self, s: &'s str, line: usize) -> Cow<'s, str> {
        if self.to.is_empty() {
            return Cow::Borrowed(s);
        }
        let mut out: Option<String> = None;
        let mut from = 0;
        for (i, t) in tokens(s) {
            if let Some((to, _)) = self.to.get(t).filter(|(to, at)| *at < line && to != t) {
                let o = out.get_or_insert_with(|| String::with_capacity(s.len()));
                o.push_str(&s[from..i]);
                o.push_str(to);
                from = i + t.len();
            }
        }
        match out {
            None => Cow::Borrowed(s),
            Some(mut o) => {
                o.push_str(&s[from..]);
                Cow::Owned(o)
            }
        }
    }

    /// `attrs` with their values translated.
    pub fn translate_attrs(&self, attrs: &[(String, String)]) -> Vec<(String, String)> {
        attrs
            .iter()
            .map(|(n, v)| (n.clone(), self.translate(v).into_owned()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn ids_learned_from_a_get_translate_later_requests() {
        let mut m = OidMap::default();
        m.learn(
            &attrs(&[
                (
                    "SAI_PORT_ATTR_QOS_QUEUE_LIST",
                    "2:oid:0x15000000000108,oid:0x15000000000109",
                ),
                ("SAI_PORT_ATTR_MTU", "9100"),
                ("SAI_SWITCH_ATTR_CPU_PORT", "oid:0x1000000000001"),
            ]),
            &attrs(&[
                (
                    "SAI_PORT_ATTR_QOS_QUEUE_LIST",
                    "2:oid:0x150000000001f0,oid:0x150000000001f1",
                ),
                ("SAI_PORT_ATTR_MTU", "1514"),
                ("SAI_SWITCH_ATTR_CPU_PORT", "oid:0x1000000000001"),
            ]),
            10,
        );
        assert_eq!(m.len(), 2, "the same id is not mapped");
        assert_eq!(
            m.translate("SAI_OBJECT_TYPE_QUEUE:oid:0x15000000000109"),
            "SAI_OBJECT_TYPE_QUEUE:oid:0x150000000001f1"
        );
        // Only whole ids: a longer id that starts the same is another object.
        assert_eq!(
            m.translate("oid:0x150000000001080"),
            "oid:0x150000000001080"
        );
        assert_eq!(
            m.translate(r#"{"dest":"10.0.0.0/8","vr":"oid:0x15000000000108"}"#),
            r#"{"dest":"10.0.0.0/8","vr":"oid:0x150000000001f0"}"#
        );
        assert!(matches!(m.translate("no ids here"), Cow::Borrowed(_)));
        // Lines up to the get's own were sent before it was learned.
        assert_eq!(
            m.translate_before("oid:0x15000000000108", 10),
            "oid:0x15000000000108"
        );
        assert_eq!(
            m.translate_before("oid:0x15000000000108", 11),
            "oid:0x150000000001f0"
        );
        // The first get to name an id decides.
        m.learn(
            &attrs(&[("L", "1:oid:0x15000000000108")]),
            &attrs(&[("L", "1:oid:0x150000000009ff")]),
            20,
        );
        assert_eq!(m.get("oid:0x15000000000108"), Some("oid:0x150000000001f0"));
    }

    #[test]
    fn longer_lists_pair_as_far_as_the_shorter_and_null_ids_teach_nothing() {
        let mut m = OidMap::default();
        m.learn(
            &attrs(&[
                (
                    "L",
                    "3:oid:0x3a000000000001,oid:0x3a000000000002,oid:0x3a00000000000c",
                ),
                ("N", "oid:0x0"),
                ("T", "oid:0x1000000000001"),
            ]),
            &attrs(&[
                ("L", "2:oid:0x3a000000000041,oid:0x3a000000000042"),
                ("N", "oid:0x9"),
                ("T", "oid:0x2000000000001"),
            ]),
            1,
        );
        assert_eq!(m.len(), 2, "{m:?}");
        assert_eq!(m.get("oid:0x3a000000000002"), Some("oid:0x3a000000000042"));
        assert_eq!(m.get("oid:0x1000000000001"), None, "another type");
        // An id already this switch's own is decided too; pairing another
        // recorded id with one already taken is refused and counted.
        let mut m = OidMap::default();
        m.learn(
            &attrs(&[("A", "oid:0x15000000000001")]),
            &attrs(&[("A", "oid:0x15000000000001")]),
            1,
        );
        m.learn(
            &attrs(&[("A", "oid:0x15000000000001")]),
            &attrs(&[("A", "oid:0x15000000000009")]),
            2,
        );
        m.learn(
            &attrs(&[("A", "oid:0x15000000000002")]),
            &attrs(&[("A", "oid:0x15000000000001")]),
            3,
        );
        assert_eq!(m.get("oid:0x15000000000001"), Some("oid:0x15000000000001"));
        assert_eq!(m.get("oid:0x15000000000002"), None);
        assert_eq!((m.len(), m.conflicts()), (0, 1));
        assert!(!OidMap::names_objects(&attrs(&[("N", "oid:0x0")])));
        assert!(OidMap::names_objects(&attrs(&[("L", "1:oid:0x5")])));
    }
}
