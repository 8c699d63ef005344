//! The keys of the objects the switch changed since the mirror last took
//! them, each once, with whether its first change made the object.
//!
//! The keys are written one after another into one string, and a table of
//! their positions finds a key noted before; each keeps its hash, so the
//! table grows without hashing a key again. (A map of `Arc<str>` made one
//! allocation a changed key and hashed every key again at each growth:
//! 13% of syncd's time under the route workload.)

use std::fmt;
use std::hash::BuildHasher;

use hashbrown::hash_table::{Entry, HashTable};

use crate::text::Hasher;

/// Keys of objects changed (made, set or removed), each with whether its
/// first change since the changes were last taken made it: an object that
/// did not exist then (so Redis, holding the state of that moment, has no
/// hash of its to clear).
#[derive(Default, Clone)]
pub struct Changed {
    /// The keys, one after another, in the order first noted.
    text: String,
    /// Each key noted: where it ends in `text`, its hash, whether made.
    keys: Vec<Noted>,
    /// Positions in `keys`, by the key's hash.
    table: HashTable<usize>,
    hasher: Hasher,
}

#[derive(Clone, Copy)]
struct Noted {
    end: usize,
    hash: u64,
    made: bool,
}

impl Changed {
    /// Notes that the object at `key` changed (`made`: its change made it);
    /// a key noted before keeps what its first change was.
    pub fn note(&mut self, key: &str, made: bool) {
        let h = self.hasher.hash_one(key.as_bytes());
        let Changed {
            text, keys, table, ..
        } = self;
        let same = |&i: &usize| keys[i].hash == h && key_at(text, keys, i) == key;
        if let Entry::Vacant(v) = table.entry(h, same, |&i| keys[i].hash) {
            v.insert(keys.len());
            text.push_str(key);
            keys.push(Noted {
                end: text.len(),
                hash: h,
                made,
            });
        }
    }

    /// Whether `key` was noted, and if so whether its first change made it.
    pub fn get(&self, key: &str) -> Option<bool> {
        let h = self.hasher.hash_one(key.as_bytes());
        self.table
            .find(h, |&i| self.keys[i].hash == h && self.key(i) == key)
            .map(|&i| self.keys[i].made)
    }

    fn key(&self, i: usize) -> &str {
        key_at(&self.text, &self.keys, i)
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Each key and whether its first change made it, in the order first
    /// noted.
    pub fn iter(&self) -> impl Iterator<Item = (&str, bool)> + '_ {
        (0..self.keys.len()).map(|i| (self.key(i), self.keys[i].made))
    }

    /// Notes each of `later`'s keys, changed after those noted here.
    pub fn merge(&mut self, later: &Changed) {
        for (k, made) in later.iter() {
            self.note(k, made);
        }
    }
}

/// The `i`th key noted.
fn key_at<'t>(text: &'t str, keys: &[Noted], i: usize) -> &'t str {
    let start = if i == 0 { 0 } else { keys[i - 1].end };
    &text[start..keys[i].end]
}

/// The same keys, each with the same first change (in whatever order).
impl PartialEq for Changed {
    fn eq(&self, other: &Changed) -> bool {
        self.len() == other.len() && self.iter().all(|(k, made)| other.get(k) == Some(made))
    }
}

impl Eq for Changed {}

impl fmt::Debug for Changed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: AsRef<str>> FromIterator<(K, bool)> for Changed {
    fn from_iter<I: IntoIterator<Item = (K, bool)>>(iter: I) -> Changed {
        let mut c = Changed::default();
        for (k, made) in iter {
            c.note(k.as_ref(), made);
        }
        c
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    proptest! {
        /// Against a map of strings: each key once, its first change kept,
        /// in the order first noted, however the table grows (keys that
        /// are prefixes of one another, the empty key, non-ASCII text).
        #[test]
        fn notes_keys_as_a_map_of_first_changes_would(
            notes in proptest::collection::vec(("(|a|ab|abc|é|[a-d]{1,6}|x{40,60})", any::<bool>()), 0..400),
            later in proptest::collection::vec(("[a-e]{1,4}", any::<bool>()), 0..50),
        ) {
            let mut c = Changed::default();
            let mut first: HashMap<String, bool> = HashMap::new();
            let mut order = Vec::new();
            for (k, made) in &notes {
                c.note(k, *made);
                if !first.contains_key(k) {
                    first.insert(k.clone(), *made);
                    order.push(k.clone());
                }
            }
            prop_assert_eq!(c.len(), first.len());
            prop_assert_eq!(c.is_empty(), first.is_empty());
            let seen: Vec<(String, bool)> = c.iter().map(|(k, m)| (k.to_owned(), m)).collect();
            let want: Vec<(String, bool)> = order.iter().map(|k| (k.clone(), first[k])).collect();
            prop_assert_eq!(seen, want);
            for (k, m) in &first {
                prop_assert_eq!(c.get(k), Some(*m));
            }
            prop_assert_eq!(c.get("never noted"), None);
            // Merged: the keys here keep their first change.
            let l: Changed = later.iter().map(|(k, m)| (k.as_str(), *m)).collect();
            let mut merged = c.clone();
            merged.merge(&l);
            for (k, m) in &later {
                first.entry(k.clone()).or_insert(*m);
            }
            prop_assert_eq!(merged.len(), first.len());
            for (k, m) in &first {
                prop_assert_eq!(merged.get(k), Some(*m));
            }
        }
    }

    #[test]
    fn equal_whatever_the_order_not_whatever_the_change() {
        let a: Changed = [("x", true), ("y", false)].into_iter().collect();
        let b: Changed = [("y", false), ("x", true)].into_iter().collect();
        let c: Changed = [("y", false), ("x", false)].into_iter().collect();
        let d: Changed = [("y", false)].into_iter().collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
        assert_ne!(d, a);
        assert_eq!(format!("{a:?}"), r#"{"x": true, "y": false}"#);
    }
}
