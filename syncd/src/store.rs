//! The switch's objects, compactly: each object is one heap allocation that
//! holds its key and its attributes, one after the other, and the table holds
//! only a pointer to it (issue 16: the switch's objects as separate heap
//! strings, a key, a list and two strings per attribute, took about 350 bytes
//! an object; a route is about 190 this way).
//!
//! An object's bytes: the key, then each attribute's name and value, each
//! string preceded by its length as a LEB128 varint (one byte below 128). The
//! number of attributes is where the bytes end. The bytes are written here from
//! `&str`s and never change (a set writes the object anew), so they read back
//! as the same strings.

use std::fmt;
use std::hash::BuildHasher;

use hashbrown::hash_table::{Entry, HashTable};

use crate::vs::Attrs;

/// The hasher: foldhash, seeded per process (SipHash made hashing keys 18% of
/// syncd's time under the route workload).
type Hasher = foldhash::fast::RandomState;

/// Objects by key, each with its attributes in the order they were set.
#[derive(Clone, Default)]
pub struct Store {
    table: HashTable<Box<[u8]>>,
    hasher: Hasher,
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// An empty store with room for `n` objects.
    pub fn with_capacity(n: usize) -> Store {
        Store {
            table: HashTable::with_capacity(n),
            hasher: Hasher::default(),
        }
    }

    /// How many objects.
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    fn hash(&self, key: &str) -> u64 {
        self.hasher.hash_one(key.as_bytes())
    }

    /// The table's slot for `key`.
    fn entry(&mut self, key: &str) -> Entry<'_, Box<[u8]>> {
        let h = self.hash(key);
        let hasher = &self.hasher;
        self.table.entry(
            h,
            |o| key_of(o) == key.as_bytes(),
            |o| hasher.hash_one(key_of(o)),
        )
    }

    /// The object at `key`.
    pub fn get(&self, key: &str) -> Option<Object<'_>> {
        self.table
            .find(self.hash(key), |o| key_of(o) == key.as_bytes())
            .map(|o| Object(o))
    }

    /// Whether there is an object at `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Every object, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = Object<'_>> + '_ {
        self.table.iter().map(|o| Object(o))
    }

    /// Makes the object at `key` with `attrs` if there is none; `false` (and
    /// nothing changed) if there is one.
    pub fn create<'a>(
        &mut self,
        key: &str,
        attrs: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> bool {
        match self.entry(key) {
            Entry::Occupied(_) => false,
            Entry::Vacant(v) => {
                // A name given twice holds its last value (as HSET keeps it).
                let attrs = merge(Vec::new(), attrs.map(|(n, v)| (n as &str, v as &str)));
                v.insert(encode(key, attrs.into_iter()));
                true
            }
        }
    }

    /// Sets each of `attrs` on the object at `key` (replacing values of the
    /// same name, appending the others), making it without attributes first
    /// when `make` and there is none; `false` (nothing changed) when there is
    /// none and not `make`.
    pub fn set<'a>(
        &mut self,
        key: &str,
        attrs: impl Iterator<Item = (&'a str, &'a str)>,
        make: bool,
    ) -> bool {
        match self.entry(key) {
            Entry::Occupied(mut o) => {
                let bytes = {
                    let old = Object(o.get()).attrs().collect();
                    let merged = merge(old, attrs.map(|(n, v)| (n as &str, v as &str)));
                    encode(key, merged.into_iter())
                };
                *o.get_mut() = bytes;
                true
            }
            Entry::Vacant(v) if make => {
                v.insert(encode(key, merge(Vec::new(), attrs).into_iter()));
                true
            }
            Entry::Vacant(_) => false,
        }
    }

    /// Puts the object at `key` with exactly `attrs`, replacing any.
    pub fn put<'a>(&mut self, key: &str, attrs: impl Iterator<Item = (&'a str, &'a str)>) {
        let bytes = encode(key, attrs);
        match self.entry(key) {
            Entry::Occupied(mut o) => *o.get_mut() = bytes,
            Entry::Vacant(v) => {
                v.insert(bytes);
            }
        }
    }

    /// Removes the object at `key`; whether there was one.
    pub fn remove(&mut self, key: &str) -> bool {
        match self
            .table
            .find_entry(self.hash(key), |o| key_of(o) == key.as_bytes())
        {
            Ok(o) => {
                o.remove();
                true
            }
            Err(_) => false,
        }
    }
}

impl PartialEq for Store {
    fn eq(&self, other: &Store) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .all(|o| other.get(o.key()).is_some_and(|p| o.attrs().eq(p.attrs())))
    }
}

impl Eq for Store {}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|o| (o.key(), o.to_attrs())))
            .finish()
    }
}

impl<K: AsRef<str>> FromIterator<(K, Attrs)> for Store {
    fn from_iter<I: IntoIterator<Item = (K, Attrs)>>(iter: I) -> Store {
        let iter = iter.into_iter();
        let mut s = Store::with_capacity(iter.size_hint().0);
        for (k, a) in iter {
            s.put(k.as_ref(), a.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        }
        s
    }
}

/// One object, borrowed from the store.
#[derive(Clone, Copy)]
pub struct Object<'s>(&'s [u8]);

impl<'s> Object<'s> {
    /// `SAI_OBJECT_TYPE_<T>:<id>`
    pub fn key(&self) -> &'s str {
        let (k, _) = field(self.0);
        text(k)
    }

    /// Its attributes, (name, value), in the order they were set.
    pub fn attrs(&self) -> AttrIter<'s> {
        let (_, rest) = field(self.0);
        AttrIter(rest)
    }

    /// The value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&'s str> {
        self.attrs().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// Whether it has no attributes.
    pub fn is_bare(&self) -> bool {
        self.attrs().0.is_empty()
    }

    /// Its attributes, copied.
    pub fn to_attrs(&self) -> Attrs {
        self.attrs()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }
}

/// An object's attributes.
#[derive(Clone)]
pub struct AttrIter<'s>(&'s [u8]);

impl<'s> Iterator for AttrIter<'s> {
    type Item = (&'s str, &'s str);

    fn next(&mut self) -> Option<(&'s str, &'s str)> {
        if self.0.is_empty() {
            return None;
        }
        let (n, rest) = field(self.0);
        let (v, rest) = field(rest);
        self.0 = rest;
        Some((text(n), text(v)))
    }
}

/// The object's bytes: its key and attributes, each with its length first.
fn encode<'a>(key: &str, attrs: impl Iterator<Item = (&'a str, &'a str)>) -> Box<[u8]> {
    let mut b = Vec::with_capacity(key.len() + 48);
    put_field(&mut b, key);
    for (n, v) in attrs {
        put_field(&mut b, n);
        put_field(&mut b, v);
    }
    b.into_boxed_slice()
}

fn put_field(b: &mut Vec<u8>, s: &str) {
    let mut n = s.len();
    while n >= 0x80 {
        b.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    b.push(n as u8);
    b.extend_from_slice(s.as_bytes());
}

/// The first field of `b` and what follows it. `b` was written by
/// [`encode`], so a length and its bytes are always there.
fn field(b: &[u8]) -> (&[u8], &[u8]) {
    let (mut len, mut shift, mut i) = (0usize, 0, 0);
    loop {
        let byte = b[i];
        len |= usize::from(byte & 0x7f) << shift;
        i += 1;
        if byte < 0x80 {
            break;
        }
        shift += 7;
    }
    b[i..].split_at(len)
}

fn key_of(o: &[u8]) -> &[u8] {
    field(o).0
}

/// Bytes written from a `&str` at these bounds.
fn text(b: &[u8]) -> &str {
    std::str::from_utf8(b).expect("the store wrote this from a str")
}

/// `old` with each of `new` set: a name already there gets the new value,
/// others are appended, in order.
fn merge<'a>(
    mut old: Vec<(&'a str, &'a str)>,
    new: impl Iterator<Item = (&'a str, &'a str)>,
) -> Vec<(&'a str, &'a str)> {
    for (n, v) in new {
        match old.iter_mut().find(|(k, _)| *k == n) {
            Some(slot) => slot.1 = v,
            None => old.push((n, v)),
        }
    }
    old
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs<'a>(a: &'a [(&'a str, &'a str)]) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        a.iter().copied()
    }

    #[test]
    fn objects_read_back_as_written() {
        let mut s = Store::new();
        let long = "x".repeat(300); // a length of two varint bytes
                                    // Lengths whose first varint byte is 0x80 (a continuation byte with
                                    // no low bits): 128 and 256.
        let (l128, l256) = ("y".repeat(128), "z".repeat(256));
        assert!(s.create("L", pairs(&[(&l128, &l256)])));
        assert_eq!(
            s.get("L").unwrap().attrs().collect::<Vec<_>>(),
            [(&*l128, &*l256)]
        );
        assert!(s.remove("L"));
        let key = format!("SAI_OBJECT_TYPE_PORT:{long}");
        assert!(s.create("K", pairs(&[])));
        assert!(s.create(&key, pairs(&[("A", "1"), ("", &long), (&long, "")])));
        assert!(!s.create("K", pairs(&[("A", "1")])), "already there");
        assert!(!s.is_empty());
        // A name given twice holds the last value, as Redis's HSET keeps it
        // (found in review: a get answered the first, and a warm start the
        // last).
        assert!(s.create("D", pairs(&[("A", "1"), ("B", "2"), ("A", "3")])));
        assert_eq!(
            s.get("D").unwrap().attrs().collect::<Vec<_>>(),
            [("A", "3"), ("B", "2")]
        );
        assert!(s.remove("D"));
        assert_eq!(s.len(), 2);
        let o = s.get(&key).unwrap();
        assert_eq!(o.key(), key);
        assert_eq!(
            o.attrs().collect::<Vec<_>>(),
            [("A", "1"), ("", &*long), (&*long, "")]
        );
        assert_eq!(o.attr(""), Some(&*long));
        assert_eq!(o.attr("B"), None);
        assert!(!o.is_bare());
        assert!(s.get("K").unwrap().is_bare());
        assert!(s.get("k").is_none() && !s.contains("KK"));
        let mut keys: Vec<_> = s.iter().map(|o| o.key()).collect();
        keys.sort();
        assert_eq!(keys, ["K", &*key]);
    }

    #[test]
    fn set_replaces_and_appends_in_order() {
        let mut s = Store::new();
        assert!(!s.set("K", pairs(&[("A", "1")]), false), "nothing there");
        assert!(s.is_empty());
        assert!(s.set("K", pairs(&[("A", "1"), ("B", "2"), ("A", "3")]), true));
        assert_eq!(
            s.get("K").unwrap().to_attrs(),
            [("A".into(), "3".into()), ("B".into(), "2".into())]
        );
        assert!(s.set("K", pairs(&[("C", "4"), ("B", "5")]), false));
        assert_eq!(
            s.get("K").unwrap().attrs().collect::<Vec<_>>(),
            [("A", "3"), ("B", "5"), ("C", "4")]
        );
        s.put("K", pairs(&[("Z", "0")]));
        assert_eq!(
            s.get("K").unwrap().attrs().collect::<Vec<_>>(),
            [("Z", "0")]
        );
        assert!(s.remove("K") && !s.remove("K"));
        assert!(s.is_empty());
    }

    #[test]
    fn many_objects_survive_the_table_growing() {
        let mut s = Store::new();
        for i in 0..10_000 {
            assert!(s.create(&format!("k{i}"), pairs(&[("n", &i.to_string())])));
        }
        for i in (0..10_000).step_by(2) {
            assert!(s.remove(&format!("k{i}")));
        }
        assert_eq!(s.len(), 5_000);
        for i in 0..10_000 {
            let v = s
                .get(&format!("k{i}"))
                .map(|o| o.attr("n").unwrap().to_owned());
            assert_eq!(v, (i % 2 == 1).then(|| i.to_string()), "k{i}");
        }
        let copy: Store = s
            .iter()
            .map(|o| (o.key().to_owned(), o.to_attrs()))
            .collect();
        assert_eq!(copy, s);
        let mut other = copy.clone();
        other.set("k1", pairs(&[("n", "x")]), false);
        assert_ne!(other, s);
    }
}
