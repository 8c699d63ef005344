//! The switch's objects, compactly: each object is one heap allocation that
//! holds its key and its attributes, one after the other, and the table holds
//! only a pointer to it (issue 16: the switch's objects as separate heap
//! strings, a key, a list and two strings per attribute, took about 350 bytes
//! an object; a route is about 70 this way).
//!
//! An object's bytes: its key's hash (4 bytes, so that the table grows
//! without writing every key out again to hash it), the key, then each
//! attribute's name and value, each string as [`crate::text`] writes it (object ids as 8 bytes, names and
//! other words by their number in the store's dictionary, numbers as they
//! are). The number of attributes is where the bytes end. The bytes are
//! written here from `&str`s and never change (a set writes the object anew),
//! so they read back as the same strings.

use std::fmt;
use std::hash::BuildHasher;

use hashbrown::hash_table::{Entry, HashTable};

use crate::text::{self, Dict, Hasher, Text};
use crate::vs::Attrs;

/// Objects by key, each with its attributes in the order they were set.
#[derive(Default)]
pub struct Store {
    table: HashTable<Box<[u8]>>,
    dict: Dict,
    /// foldhash, seeded per process (SipHash made hashing keys 18% of
    /// syncd's time under the route workload).
    hasher: Hasher,
    /// An object's bytes as they are written.
    scratch: Vec<u8>,
}

/// The most memory the write buffer keeps between objects.
const SCRATCH_KEEP: usize = 64 << 10;

/// A copy holds the same objects (and words); its write buffer starts empty.
impl Clone for Store {
    fn clone(&self) -> Store {
        Store {
            table: self.table.clone(),
            dict: self.dict.clone(),
            hasher: self.hasher,
            scratch: Vec::new(),
        }
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// An empty store whose dictionary holds at most `words` words.
    #[cfg(test)]
    fn with_dict_limit(words: usize) -> Store {
        Store {
            dict: Dict::with_limit(words),
            ..Store::default()
        }
    }

    /// An empty store with room for `n` objects.
    pub fn with_capacity(n: usize) -> Store {
        Store {
            table: HashTable::with_capacity(n),
            ..Store::default()
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

    /// How many words its dictionary holds (names, types, enum values and
    /// the text around numbers that its objects share).
    pub fn words(&self) -> usize {
        self.dict.len()
    }

    /// A key's hash: of its text, so that a look-up need not write it as
    /// the store does (that takes several times as long as hashing it).
    /// Its 32 bits are what an object keeps (see [`widen`]).
    fn hash(hasher: &Hasher, key: &str) -> u64 {
        widen(hasher.hash_one(key.as_bytes()) as u32)
    }

    /// The object at `key` (its bytes after the hash).
    fn find(&self, key: &str) -> Option<&[u8]> {
        let dict = &self.dict;
        let h = Store::hash(&self.hasher, key);
        self.table.find(h, is_at(dict, h, key)).map(|o| body(o))
    }

    /// The object at `key`.
    pub fn get(&self, key: &str) -> Option<Object<'_>> {
        Some(Object {
            b: self.find(key)?,
            dict: &self.dict,
        })
    }

    /// Whether there is an object at `key`.
    pub fn contains(&self, key: &str) -> bool {
        self.find(key).is_some()
    }

    /// Every object, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = Object<'_>> + '_ {
        let dict = &self.dict;
        self.table.iter().map(move |o| Object { b: body(o), dict })
    }

    /// Writes `key` into the scratch buffer as the store holds it, after
    /// its hash, and gives its slot in the table and its hash. (The bytes a key is written
    /// as are the same whenever it is written: see `Dict::encode_lookup`.)
    fn entry(&mut self, key: &str) -> (Entry<'_, Box<[u8]>>, u64) {
        let Store {
            table,
            dict,
            hasher,
            scratch,
        } = self;
        let h = Store::hash(hasher, key);
        scratch.clear();
        scratch.extend_from_slice(&(h as u32).to_le_bytes());
        dict.encode(key, scratch);
        let k = &scratch[HASH_BYTES..];
        let e = table.entry(
            h,
            |o| hash_of(o) == h && key_of(body(o)) == k,
            |o| hash_of(o),
        );
        (e, h)
    }

    /// Makes the object at `key` with `attrs` if there is none; `false` (and
    /// nothing changed) if there is one.
    pub fn create<'a>(
        &mut self,
        key: &str,
        attrs: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> bool {
        let h = match self.entry(key) {
            (Entry::Occupied(_), _) => return false,
            (Entry::Vacant(_), h) => h,
        };
        // A name given twice holds its last value (as HSET keeps it).
        let attrs = merge(&self.dict, Vec::new(), attrs);
        self.insert(h, attrs);
        true
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
        // Nothing found and nothing to make: the key's words are not
        // numbered (as writing it would).
        if !make && !self.contains(key) {
            return false;
        }
        let (old, h) = match self.entry(key) {
            (Entry::Occupied(o), h) => (Some(o.remove().0), h),
            (Entry::Vacant(_), h) if make => (None, h),
            (Entry::Vacant(_), _) => return false,
        };
        let old = old
            .as_deref()
            .map_or(Vec::new(), |o| raw_attrs(body(o)).collect());
        let attrs = merge(&self.dict, old, attrs);
        self.insert(h, attrs);
        true
    }

    /// Puts the object at `key` with exactly `attrs`, replacing any.
    pub fn put<'a>(&mut self, key: &str, attrs: impl Iterator<Item = (&'a str, &'a str)>) {
        let h = match self.entry(key) {
            (Entry::Occupied(o), h) => {
                o.remove();
                h
            }
            (Entry::Vacant(_), h) => h,
        };
        let attrs = attrs.map(|(n, v)| (Part::Str(n), Part::Str(v))).collect();
        self.insert(h, attrs);
    }

    /// Adds the object whose key [`Store::entry`] has just written into
    /// the scratch buffer (and found no object at; its hash `h`), with
    /// `attrs`.
    fn insert(&mut self, h: u64, attrs: Vec<(Part<'_>, Part<'_>)>) {
        for (n, v) in attrs {
            for p in [n, v] {
                match p {
                    Part::Written(b) => self.scratch.extend_from_slice(b),
                    Part::Str(s) => self.dict.encode(s, &mut self.scratch),
                }
            }
        }
        let o: Box<[u8]> = Box::from(&self.scratch[..]);
        self.scratch.clear();
        self.scratch.shrink_to(SCRATCH_KEEP);
        self.table.insert_unique(h, o, |o| hash_of(o));
    }

    /// Removes the object at `key`; whether there was one.
    pub fn remove(&mut self, key: &str) -> bool {
        let dict = &self.dict;
        let h = Store::hash(&self.hasher, key);
        match self.table.find_entry(h, is_at(dict, h, key)) {
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
            && self.iter().all(|o| {
                other
                    .get(&o.key().to_str())
                    .is_some_and(|p| o.attrs().eq(p.attrs()))
            })
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
pub struct Object<'s> {
    b: &'s [u8],
    dict: &'s Dict,
}

impl<'s> Object<'s> {
    /// `SAI_OBJECT_TYPE_<T>:<id>`
    pub fn key(&self) -> Text<'s> {
        Text::new(key_of(self.b), self.dict)
    }

    /// Its attributes, (name, value), in the order they were set.
    pub fn attrs(&self) -> AttrIter<'s> {
        AttrIter {
            raw: raw_attrs(self.b),
            dict: self.dict,
        }
    }

    /// The value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<Text<'s>> {
        self.attrs().find(|(n, _)| n.is(name)).map(|(_, v)| v)
    }

    /// Whether it has no attributes.
    pub fn is_bare(&self) -> bool {
        self.attrs().raw.0.is_empty()
    }

    /// Its attributes, copied.
    pub fn to_attrs(&self) -> Attrs {
        self.attrs()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }
}

/// An object's attributes.
#[derive(Clone)]
pub struct AttrIter<'s> {
    raw: RawAttrs<'s>,
    dict: &'s Dict,
}

impl<'s> Iterator for AttrIter<'s> {
    type Item = (Text<'s>, Text<'s>);

    fn next(&mut self) -> Option<(Text<'s>, Text<'s>)> {
        let (n, v) = self.raw.next()?;
        Some((Text::new(n, self.dict), Text::new(v, self.dict)))
    }
}

/// An object's attributes as their bytes, (name, value).
#[derive(Clone)]
struct RawAttrs<'s>(&'s [u8]);

impl<'s> Iterator for RawAttrs<'s> {
    type Item = (&'s [u8], &'s [u8]);

    fn next(&mut self) -> Option<(&'s [u8], &'s [u8])> {
        if self.0.is_empty() {
            return None;
        }
        let (n, rest) = text::split(self.0);
        let (v, rest) = text::split(rest);
        self.0 = rest;
        Some((n, v))
    }
}

fn raw_attrs(o: &[u8]) -> RawAttrs<'_> {
    RawAttrs(text::split(o).1)
}

/// Whether a stored object is the one at `key`, whose hash is `h` (the
/// kept hash rules most others out; the key decides).
fn is_at<'k>(dict: &'k Dict, h: u64, key: &'k str) -> impl Fn(&Box<[u8]>) -> bool + 'k {
    move |o| hash_of(o) == h && Text::new(body(o), dict).is(key)
}

/// The bytes of an object's key's hash, at the start of its bytes.
const HASH_BYTES: usize = 4;

/// A key's 32-bit hash as the table's: the table places an object by the
/// low bits and tells candidates apart by the top seven, both within these
/// 32 bits (a table of 2^25 slots and more would use some for both).
fn widen(h: u32) -> u64 {
    (u64::from(h) << 32) | u64::from(h)
}

/// The hash an object keeps, as the table's.
fn hash_of(o: &[u8]) -> u64 {
    let mut h = [0u8; HASH_BYTES];
    h.copy_from_slice(&o[..HASH_BYTES]);
    widen(u32::from_le_bytes(h))
}

/// An object's bytes after its hash: its key and attributes.
fn body(o: &[u8]) -> &[u8] {
    &o[HASH_BYTES..]
}

/// The bytes an object's key is written as (from its body).
fn key_of(o: &[u8]) -> &[u8] {
    text::split(o).0
}

/// A string to write: one already written (its bytes, copied as they are:
/// the dictionary only grows), or one to write.
#[derive(Clone, Copy)]
enum Part<'a> {
    Written(&'a [u8]),
    Str(&'a str),
}

/// `old` with each of `new` set: a name already there gets the new value,
/// others are appended, in order.
fn merge<'o, 'a: 'o>(
    dict: &Dict,
    mut old: Vec<(&'o [u8], &'o [u8])>,
    new: impl Iterator<Item = (&'a str, &'a str)>,
) -> Vec<(Part<'o>, Part<'o>)> {
    let mut out: Vec<(Part<'o>, Part<'o>)> = old
        .drain(..)
        .map(|(n, v)| (Part::Written(n), Part::Written(v)))
        .collect();
    for (n, v) in new {
        let same = |p: &Part<'_>| match *p {
            Part::Written(b) => Text::new(b, dict).is(n),
            Part::Str(s) => s == n,
        };
        match out.iter_mut().find(|(k, _)| same(k)) {
            Some(slot) => slot.1 = Part::Str(v),
            None => out.push((Part::Str(n), Part::Str(v))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Among 300,000 keys some share their 32-bit hash (about ten pairs are
    /// expected): the kept hash only rules candidates out, the key decides.
    /// Each key is made once, found as itself, and removed alone.
    #[test]
    fn keys_that_share_a_hash_stay_apart() {
        let n = 300_000u32;
        let key = |i: u32| format!("SAI_OBJECT_TYPE_VLAN:v{i}");
        let mut s = Store::new();
        for i in 0..n {
            assert!(s.create(&key(i), std::iter::empty()), "{} made", key(i));
        }
        assert_eq!(s.len(), n as usize);
        for i in 0..n {
            let o = s.get(&key(i)).expect("found");
            assert!(o.key().is(&key(i)), "{} found as {}", key(i), o.key());
        }
        for i in (0..n).step_by(2) {
            assert!(s.remove(&key(i)), "{} removed", key(i));
        }
        for i in 0..n {
            assert_eq!(
                s.contains(&key(i)),
                i % 2 == 1,
                "{} after the removals",
                key(i)
            );
        }
    }

    fn pairs<'a>(a: &'a [(&'a str, &'a str)]) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        a.iter().copied()
    }

    /// The attributes of the object at `key`, as strings.
    fn got(s: &Store, key: &str) -> Attrs {
        s.get(key).expect(key).to_attrs()
    }

    fn want(a: &[(&str, &str)]) -> Attrs {
        a.iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn objects_read_back_as_written() {
        let mut s = Store::new();
        let long = "x".repeat(300); // a length of two varint bytes
                                    // Lengths whose first varint byte is 0x80 (a continuation byte with
                                    // no low bits): 128 and 256.
        let (l128, l256) = ("y".repeat(128), "z".repeat(256));
        assert!(s.create("L", pairs(&[(&l128, &l256)])));
        assert_eq!(got(&s, "L"), want(&[(&l128, &l256)]));
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
        assert_eq!(got(&s, "D"), want(&[("A", "3"), ("B", "2")]));
        assert!(s.remove("D"));
        assert_eq!(s.len(), 2);
        let o = s.get(&key).unwrap();
        assert_eq!(o.key(), key);
        assert_eq!(o.to_attrs(), want(&[("A", "1"), ("", &long), (&long, "")]));
        assert_eq!(o.attr("").unwrap(), &*long);
        assert!(o.attr("B").is_none());
        assert!(!o.is_bare());
        assert!(s.get("K").unwrap().is_bare());
        assert!(s.get("k").is_none() && !s.contains("KK"));
        let mut keys: Vec<_> = s.iter().map(|o| o.key().to_string()).collect();
        keys.sort();
        assert_eq!(keys, ["K", &key]);
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
        assert_eq!(got(&s, "K"), want(&[("A", "3"), ("B", "5"), ("C", "4")]));
        s.put("K", pairs(&[("Z", "0")]));
        assert_eq!(got(&s, "K"), want(&[("Z", "0")]));
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
                .map(|o| o.attr("n").unwrap().to_string());
            assert_eq!(v, (i % 2 == 1).then(|| i.to_string()), "k{i}");
        }
        let copy: Store = s
            .iter()
            .map(|o| (o.key().to_string(), o.to_attrs()))
            .collect();
        assert_eq!(copy, s);
        let mut other = copy.clone();
        other.set("k1", pairs(&[("n", "x")]), false);
        assert_ne!(other, s);
    }

    /// A set that finds nothing changes nothing, the dictionary included
    /// (found in review: each such set numbered its key's words, so requests
    /// answered NOT_FOUND filled the dictionary for good).
    #[test]
    fn a_set_that_finds_nothing_numbers_nothing() {
        let mut s = Store::new();
        assert!(s.create("SAI_OBJECT_TYPE_PORT:oid:0x1", pairs(&[("SAI_A", "b")])));
        let words = s.words();
        for i in 0..100 {
            let key = format!(
                "SAI_OBJECT_TYPE_ROUTE_ENTRY:{{\"dest\":\"x{}\"}}",
                "y".repeat(i)
            );
            assert!(!s.set(&key, pairs(&[("SAI_NEW_NAME", "new")]), false));
        }
        assert_eq!((s.len(), s.words()), (1, words));
        assert!(s.set(
            "SAI_OBJECT_TYPE_PORT:oid:0x1",
            pairs(&[("SAI_C", "d")]),
            false
        ));
        assert_eq!(
            got(&s, "SAI_OBJECT_TYPE_PORT:oid:0x1"),
            want(&[("SAI_A", "b"), ("SAI_C", "d")])
        );
        assert!(s.words() > words, "a set that lands numbers its new word");
    }

    /// The buffer objects are written in does not keep the memory of a large
    /// one, nor is it copied with the store (found in review: a 64 MiB value
    /// kept 64 MiB for good).
    #[test]
    fn a_large_object_leaves_no_large_buffer_behind() {
        let mut s = Store::new();
        let big = "x".repeat(4 << 20);
        s.put("K", pairs(&[("A", &big)]));
        assert_eq!(got(&s, "K"), want(&[("A", &big)]));
        assert!(
            s.scratch.capacity() <= SCRATCH_KEEP,
            "{}",
            s.scratch.capacity()
        );
        s.put("L", pairs(&[("A", "b")]));
        let c = s.clone();
        assert!(c.scratch.is_empty() && c.scratch.capacity() == 0);
        assert_eq!(c, s);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Create(usize, Vec<(usize, String)>),
        Set(usize, Vec<(usize, String)>, bool),
        Put(usize, Vec<(usize, String)>),
        Remove(usize),
    }

    proptest::proptest! {
        /// Any sequence of changes leaves the store holding what a plain
        /// map of strings holds, whether its dictionary has room or not.
        #[test]
        fn the_store_holds_what_a_map_of_strings_holds(
            keys in proptest::collection::vec(crate::text::tests::tricky(), 1..6),
            names in proptest::collection::vec(crate::text::tests::tricky(), 1..4),
            ops in proptest::collection::vec(
                {
                    use proptest::prelude::*;
                    let attrs = proptest::collection::vec(
                        (0usize..4, crate::text::tests::tricky()),
                        0..4,
                    );
                    prop_oneof![
                        (0usize..6, attrs.clone()).prop_map(|(k, a)| Op::Create(k, a)),
                        (0usize..6, attrs.clone(), any::<bool>())
                            .prop_map(|(k, a, m)| Op::Set(k, a, m)),
                        (0usize..6, attrs).prop_map(|(k, a)| Op::Put(k, a)),
                        (0usize..6).prop_map(Op::Remove),
                    ]
                },
                0..24,
            ),
            limit in 0usize..12,
        ) {
            use std::collections::HashMap;
            let mut s = Store::with_dict_limit(limit);
            let mut m: HashMap<String, Attrs> = HashMap::new();
            let key = |k: usize| keys[k % keys.len()].clone();
            let named = |a: &[(usize, String)]| -> Attrs {
                a.iter().map(|(n, v)| (names[n % names.len()].clone(), v.clone())).collect()
            };
            let set_in = |into: &mut Attrs, a: Attrs| {
                for (n, v) in a {
                    match into.iter_mut().find(|(k, _)| *k == n) {
                        Some(slot) => slot.1 = v,
                        None => into.push((n, v)),
                    }
                }
            };
            for op in ops.iter() {
                match op {
                    Op::Create(k, a) => {
                        let (k, a) = (key(*k), named(a));
                        let made = s.create(&k, a.iter().map(|(n, v)| (n.as_str(), v.as_str())));
                        proptest::prop_assert_eq!(made, !m.contains_key(&k));
                        if made {
                            let mut into = Attrs::new();
                            set_in(&mut into, a);
                            m.insert(k, into);
                        }
                    }
                    Op::Set(k, a, make) => {
                        let (k, a) = (key(*k), named(a));
                        let done = s.set(&k, a.iter().map(|(n, v)| (n.as_str(), v.as_str())), *make);
                        proptest::prop_assert_eq!(done, *make || m.contains_key(&k));
                        if done {
                            set_in(m.entry(k).or_default(), a);
                        }
                    }
                    Op::Put(k, a) => {
                        let (k, a) = (key(*k), named(a));
                        s.put(&k, a.iter().map(|(n, v)| (n.as_str(), v.as_str())));
                        m.insert(k, a);
                    }
                    Op::Remove(k) => {
                        let k = key(*k);
                        proptest::prop_assert_eq!(s.remove(&k), m.remove(&k).is_some());
                    }
                }
                proptest::prop_assert_eq!(s.len(), m.len());
                for (k, a) in &m {
                    proptest::prop_assert_eq!(&got(&s, k), a);
                    for (n, _) in a {
                        // The first of a name given twice (a put keeps both).
                        let first = a.iter().find(|(x, _)| x == n).map(|(_, v)| v.clone());
                        let found = s.get(k).unwrap().attr(n).map(|v| v.to_string());
                        proptest::prop_assert_eq!(found, first);
                    }
                }
                for k in &keys {
                    proptest::prop_assert_eq!(s.contains(k), m.contains_key(k));
                }
            }
            proptest::prop_assert!(s.words() <= limit);
        }
    }
}
