//! How the store writes each string it holds (a key, an attribute's name or
//! value): as tokens, so that what repeats from object to object is held once
//! (issue 16: a route's key and attributes were 222 bytes of text, most of it
//! the same names and ids as every other route's).
//!
//! A string is cut into segments, the same way every time:
//!
//! - an object id as SAI's `sai_serialize_object_id` writes it, `oid:0x`
//!   and 1 to 16 lower-case hex digits without leading zeros: held as its
//!   8-byte value;
//! - a word `SAI_[A-Z0-9_]*` (an object type, an attribute's name, an enum
//!   value): held in the store's dictionary, by number;
//! - a number: a run of `[0-9A-Fa-f.:/]` holding a digit (an address, a
//!   prefix, a MAC, a count): held as it is;
//! - the text between those, which holds no digit (the JSON around an
//!   entry's fields, `true`, `NULL`): in the dictionary.
//!
//! The dictionary holds at most [`DICT_MAX`] words of at most [`WORD_MAX`]
//! bytes, never forgets one, and gives a word the next number; past its
//! limit, words are held as they are. So it is bounded whatever a client
//! sends, and a string's tokens depend on when it was written but always
//! read back as the same string.
//!
//! A string's bytes: the number of tokens (a LEB128 varint), then each token,
//! which starts with a varint `h`: `h & 3 == 0` is `h >> 2` bytes of text
//! that follow; `h == 1` is an object id, its 8 bytes little-endian after;
//! `h & 3 == 2` is dictionary word `h >> 2`.

use std::borrow::Cow;
use std::fmt;
use std::hash::BuildHasher;

use hashbrown::HashTable;

/// The hasher for the dictionary's index (and the store's table).
pub(crate) type Hasher = foldhash::fast::RandomState;

/// Words the dictionary holds at most.
pub const DICT_MAX: usize = 1 << 16;
/// The longest word the dictionary holds.
pub const WORD_MAX: usize = 96;

const LITERAL: usize = 0;
const OID: usize = 1;
const WORD: usize = 2;

/// Words by number: what the store's strings share.
#[derive(Clone)]
pub(crate) struct Dict {
    words: Vec<Box<str>>,
    index: HashTable<u32>,
    hasher: Hasher,
    limit: usize,
}

impl Default for Dict {
    fn default() -> Dict {
        Dict::with_limit(DICT_MAX)
    }
}

impl Dict {
    /// A dictionary of at most `limit` words.
    pub(crate) fn with_limit(limit: usize) -> Dict {
        Dict {
            words: Vec::new(),
            index: HashTable::new(),
            hasher: Hasher::default(),
            limit,
        }
    }

    /// How many words it holds.
    pub(crate) fn len(&self) -> usize {
        self.words.len()
    }

    /// The number of `w`, if it has one.
    fn find(&self, w: &str) -> Option<usize> {
        let words = &self.words;
        self.index
            .find(self.hasher.hash_one(w), |&i| &*words[i as usize] == w)
            .map(|&i| i as usize)
    }

    /// The number of `w`, given one if there is room.
    fn intern(&mut self, w: &str) -> Option<usize> {
        if let Some(i) = self.find(w) {
            return Some(i);
        }
        if self.words.len() >= self.limit {
            return None;
        }
        let i = self.words.len();
        self.words.push(w.into());
        let (words, hasher) = (&self.words, &self.hasher);
        self.index
            .insert_unique(hasher.hash_one(w), i as u32, |&j| {
                hasher.hash_one(&*words[j as usize])
            });
        Some(i)
    }

    fn word(&self, i: usize) -> &str {
        &self.words[i]
    }

    /// Appends the tokens of `s` to `out`, giving its words numbers where
    /// there is room.
    pub(crate) fn encode(&mut self, s: &str, out: &mut Vec<u8>) {
        tokens(s, out, |w| self.intern(w));
    }

    /// Appends the tokens `s` would have if the store held it, numbering
    /// nothing.
    ///
    /// A string's bytes are the same whenever it is written (so the store
    /// can compare a key it writes with those it holds byte for byte): a
    /// word is numbered
    /// the first time it is written if there is room then, and a
    /// dictionary without room never has room again, so a word written as
    /// text was never numbered, and one that has no number was never
    /// written, or only as text.
    #[cfg(test)]
    pub(crate) fn encode_lookup(&self, s: &str, out: &mut Vec<u8>) {
        tokens(s, out, |w| self.find(w));
    }
}

/// Appends the tokens of `s` to `out`, words numbered by `number`.
fn tokens(s: &str, out: &mut Vec<u8>, mut number: impl FnMut(&str) -> Option<usize>) {
    let at = out.len();
    // The count is written after the tokens are: reserve its byte, and
    // make room when it takes more (a string of 128 tokens or more).
    out.push(0);
    let mut n = 0usize;
    let mut rest = s;
    while !rest.is_empty() {
        let (seg, after) = segment(rest);
        match seg {
            Segment::Oid(v) => {
                put_varint(out, OID);
                out.extend_from_slice(&v.to_le_bytes());
            }
            Segment::Word(w) | Segment::Other(w) if internable(&seg) => match number(w) {
                Some(i) => put_varint(out, i << 2 | WORD),
                None => put_literal(out, w),
            },
            Segment::Word(w) | Segment::Number(w) | Segment::Other(w) => put_literal(out, w),
        }
        n += 1;
        rest = after;
    }
    if n < 0x80 {
        out[at] = n as u8;
    } else {
        let mut count = Vec::with_capacity(4);
        put_varint(&mut count, n);
        out.splice(at..at + 1, count);
    }
}

fn put_literal(out: &mut Vec<u8>, w: &str) {
    put_varint(out, w.len() << 2 | LITERAL);
    out.extend_from_slice(w.as_bytes());
}

/// Appends `n` as a LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

/// The varint at the start of `b`, and the bytes after it. `b` was written
/// by [`put_varint`].
pub(crate) fn varint(b: &[u8]) -> (usize, &[u8]) {
    let (mut n, mut shift, mut i) = (0usize, 0, 0);
    loop {
        let byte = b[i];
        n |= usize::from(byte & 0x7f) << shift;
        i += 1;
        if byte < 0x80 {
            return (n, &b[i..]);
        }
        shift += 7;
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Segment<'a> {
    Oid(u64),
    Word(&'a str),
    Number(&'a str),
    Other(&'a str),
}

fn internable(seg: &Segment<'_>) -> bool {
    match *seg {
        Segment::Oid(_) | Segment::Number(_) => false,
        Segment::Word(w) | Segment::Other(w) => w.len() <= WORD_MAX,
    }
}

/// A byte that can be part of a number.
fn numeric(b: u8) -> bool {
    b.is_ascii_hexdigit() || matches!(b, b'.' | b':' | b'/')
}

/// The length of the number that starts `b`, if one does.
fn number_at(b: &[u8]) -> Option<usize> {
    let n = b.iter().take_while(|&&c| numeric(c)).count();
    b[..n].iter().any(u8::is_ascii_digit).then_some(n)
}

/// The object id written at the start of `b`, if one is, and its length.
fn oid_at(b: &[u8]) -> Option<(u64, usize)> {
    let digits = b.strip_prefix(b"oid:0x")?;
    let (mut v, mut n) = (0u64, 0);
    for &c in digits.iter().take(17) {
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => break,
        };
        v = v << 4 | u64::from(d);
        n += 1;
    }
    // 1 to 16 digits, no leading zero (but `0` itself), and no digit after
    // them (`oid:0x1A`, or a seventeenth): written back exactly by `{:x}`.
    if n == 0
        || n > 16
        || (n > 1 && digits[0] == b'0')
        || digits.get(n).is_some_and(u8::is_ascii_hexdigit)
    {
        return None;
    }
    Some((v, 6 + n))
}

/// Where the text at the start of `b` ends: at the next id, `SAI_` word or
/// number (`b[0]` starts none of them).
fn text_end(b: &[u8]) -> usize {
    for (i, &c) in b.iter().enumerate().skip(1) {
        match c {
            b'S' if b[i..].starts_with(b"SAI_") => return i,
            b'o' if oid_at(&b[i..]).is_some() => return i,
            // The first digit: the number it is in starts after the last
            // byte before it that cannot be in a number (not before `b[1]`:
            // a number at `b[0]` would be the segment).
            b'0'..=b'9' => {
                let mut k = i;
                while k > 1 && numeric(b[k - 1]) {
                    k -= 1;
                }
                return k;
            }
            _ => {}
        }
    }
    b.len()
}

/// The first segment of `s` (not empty), and what follows it.
fn segment(s: &str) -> (Segment<'_>, &str) {
    let b = s.as_bytes();
    if let Some((v, n)) = oid_at(b) {
        return (Segment::Oid(v), &s[n..]);
    }
    if b.starts_with(b"SAI_") {
        let n = 4 + b[4..]
            .iter()
            .take_while(|c| matches!(c, b'A'..=b'Z' | b'0'..=b'9' | b'_'))
            .count();
        return (Segment::Word(&s[..n]), &s[n..]);
    }
    if let Some(n) = number_at(b) {
        return (Segment::Number(&s[..n]), &s[n..]);
    }
    // Every other kind of segment starts with an ASCII byte, which is never
    // inside a character: the cut is at a character's boundary. A digit
    // starts or is inside a number, so the text before one has none.
    let n = text_end(b);
    (Segment::Other(&s[..n]), &s[n..])
}

/// The bytes of the string that starts `b`, and what follows them.
pub(crate) fn split(b: &[u8]) -> (&[u8], &[u8]) {
    let (n, mut rest) = varint(b);
    for _ in 0..n {
        let (h, after) = varint(rest);
        rest = match h & 3 {
            LITERAL => &after[h >> 2..],
            OID => &after[8..],
            _ => after,
        };
    }
    b.split_at(b.len() - rest.len())
}

/// One piece of a string: text (whole characters), or an object id to
/// write as `oid:0x…`.
#[derive(Clone, Copy)]
enum Piece<'s> {
    Text(&'s [u8]),
    Oid(u64),
}

/// A string the store holds, read from its tokens.
#[derive(Clone, Copy)]
pub struct Text<'s> {
    b: &'s [u8],
    dict: &'s Dict,
}

impl<'s> Text<'s> {
    /// The string written at the start of `b` (what follows it is not
    /// read).
    pub(crate) fn new(b: &'s [u8], dict: &'s Dict) -> Text<'s> {
        Text { b, dict }
    }

    fn pieces(&self) -> Pieces<'s> {
        let (n, rest) = varint(self.b);
        Pieces {
            n,
            rest,
            dict: self.dict,
        }
    }

    /// The string, borrowed when it is one piece of text.
    pub fn to_str(&self) -> Cow<'s, str> {
        let mut p = self.pieces();
        match (p.next(), p.next()) {
            (None, _) => Cow::Borrowed(""),
            (Some(Piece::Text(t)), None) => Cow::Borrowed(as_str(t)),
            _ => Cow::Owned(self.to_string()),
        }
    }

    /// Appends the string's bytes to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        let mut buf = [0u8; 22];
        for p in self.pieces() {
            out.extend_from_slice(p.bytes(&mut buf));
        }
    }

    /// Whether the string is `s`, without writing it out.
    pub fn is(&self, s: &str) -> bool {
        self.against(s) == Some(false)
    }

    /// Whether the string starts with `prefix` (read only as far as needed,
    /// nothing written out).
    pub fn starts_with(&self, prefix: &str) -> bool {
        self.against(prefix).is_some()
    }

    /// The string read against `s`, piece by piece, only as far as needed:
    /// `None` when `s` is not a prefix of it, else whether it goes on past
    /// `s`.
    fn against(&self, s: &str) -> Option<bool> {
        let mut rest = s.as_bytes();
        let mut buf = [0u8; 22];
        for p in self.pieces() {
            if rest.is_empty() {
                return Some(true);
            }
            let b = p.bytes(&mut buf);
            let n = b.len().min(rest.len());
            if b[..n] != rest[..n] {
                return None;
            }
            rest = &rest[n..];
            if n < b.len() {
                // The piece goes on past `s`.
                return Some(true);
            }
        }
        if rest.is_empty() {
            Some(false)
        } else {
            None
        }
    }
}

/// Bytes the store wrote from a `&str`, at its bounds.
fn as_str(t: &[u8]) -> &str {
    std::str::from_utf8(t).expect("the store wrote this from a str")
}

/// A string's pieces, read from its tokens.
struct Pieces<'s> {
    n: usize,
    rest: &'s [u8],
    dict: &'s Dict,
}

impl<'s> Iterator for Pieces<'s> {
    type Item = Piece<'s>;

    fn next(&mut self) -> Option<Piece<'s>> {
        if self.n == 0 {
            return None;
        }
        self.n -= 1;
        let (h, after) = varint(self.rest);
        Some(match h & 3 {
            LITERAL => {
                let (t, r) = after.split_at(h >> 2);
                self.rest = r;
                Piece::Text(t)
            }
            OID => {
                let (v, r) = after.split_at(8);
                self.rest = r;
                Piece::Oid(u64::from_le_bytes(v.try_into().expect("8 bytes")))
            }
            _ => {
                self.rest = after;
                Piece::Text(self.dict.word(h >> 2).as_bytes())
            }
        })
    }
}

impl Piece<'_> {
    /// Its bytes (an id's written into `buf`).
    fn bytes<'a>(&'a self, buf: &'a mut [u8; 22]) -> &'a [u8] {
        match *self {
            Piece::Text(t) => t,
            Piece::Oid(v) => oid_text(v, buf),
        }
    }
}

/// `oid:0x…` for `v`, written into `buf`.
fn oid_text(v: u64, buf: &mut [u8; 22]) -> &[u8] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digits = (67 - v.leading_zeros() as usize).max(4) / 4;
    buf[..6].copy_from_slice(b"oid:0x");
    for i in 0..digits {
        buf[6 + i] = HEX[(v >> (4 * (digits - 1 - i)) & 0xf) as usize];
    }
    &buf[..6 + digits]
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 22];
        for p in self.pieces() {
            f.write_str(as_str(p.bytes(&mut buf)))?;
        }
        Ok(())
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.to_str(), f)
    }
}

impl PartialEq<str> for Text<'_> {
    fn eq(&self, other: &str) -> bool {
        self.is(other)
    }
}

impl PartialEq<String> for Text<'_> {
    fn eq(&self, other: &String) -> bool {
        self.is(other)
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.is(other)
    }
}

impl PartialEq for Text<'_> {
    fn eq(&self, other: &Text<'_>) -> bool {
        self.is(&other.to_str())
    }
}

impl Eq for Text<'_> {}

impl redis::ToRedisArgs for Text<'_> {
    fn write_redis_args<W: ?Sized + redis::RedisWrite>(&self, out: &mut W) {
        use std::io::Write;
        let mut w = out.writer_for_next_arg();
        let mut buf = [0u8; 22];
        for p in self.pieces() {
            w.write_all(p.bytes(&mut buf))
                .expect("redis-rs's argument buffers take any write");
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn round_trip(d: &mut Dict, s: &str) -> Vec<u8> {
        let mut b = vec![0xee];
        d.encode(s, &mut b);
        b.push(0xdd);
        let (t, rest) = split(&b[1..]);
        assert_eq!(
            rest,
            [0xdd],
            "{s:?}: the string's bytes end where they should"
        );
        let t = Text::new(t, d);
        assert_eq!(t.to_string(), s);
        assert_eq!(t.to_str(), s);
        assert!(t.is(s), "{s:?}");
        assert!(!t.is(&format!("{s}x")) && !t.is(&format!("x{s}")));
        if let Some(shorter) = s
            .get(..s.len().saturating_sub(1))
            .filter(|p| p.len() < s.len())
        {
            assert!(!t.is(shorter), "{s:?} is not {shorter:?}");
        }
        let mut w = Vec::new();
        t.write_to(&mut w);
        assert_eq!(w, s.as_bytes());
        b[1..b.len() - 1].to_vec()
    }

    #[test]
    fn segments_are_cut_the_same_way_every_time() {
        fn cut(s: &str) -> Vec<Segment<'_>> {
            let mut v = Vec::new();
            let mut rest = s;
            while !rest.is_empty() {
                let (seg, r) = segment(rest);
                v.push(seg);
                rest = r;
            }
            v
        }
        use Segment::*;
        assert_eq!(
            cut(
                r#"SAI_OBJECT_TYPE_ROUTE_ENTRY:{"dest":"10.0.0.0/24","switch_id":"oid:0x21000000000000"}"#
            ),
            [
                Word("SAI_OBJECT_TYPE_ROUTE_ENTRY"),
                Other(r#":{"dest":""#),
                Number("10.0.0.0/24"),
                Other(r#"","switch_id":""#),
                Oid(0x21000000000000),
                Other(r#""}"#),
            ]
        );
        // Ids that `{:x}` would not write back as they are are not ids.
        for s in [
            "oid:0x",
            "oid:0xABC",
            "oid:0x01",
            "oid:0x1A",
            "oid:0x12345678901234567",
            "oid:1",
        ] {
            assert!(
                !cut(s).iter().any(|g| matches!(g, Oid(_))),
                "{s}: {:?}",
                cut(s)
            );
        }
        assert_eq!(cut("oid:0x0"), [Oid(0)]);
        assert_eq!(cut("oid:0xffffffffffffffff"), [Oid(u64::MAX)]);
        assert_eq!(cut("oid:0x1g"), [Oid(1), Other("g")]);
        assert_eq!(cut("SAI_"), [Word("SAI_")]);
        assert_eq!(cut("SAI_A b"), [Word("SAI_A"), Other(" b")]);
        assert_eq!(cut("xSAI_Ay"), [Other("x"), Word("SAI_A"), Other("y")]);
        assert_eq!(cut("é,oid:0x5é"), [Other("é,"), Oid(5), Other("é")]);
        assert_eq!(cut("sai_x SAIY"), [Other("sai_x SAIY")]);
        // Numbers: a run of hex digits, '.', ':' and '/' holding a digit,
        // whole (not from inside a word's hex letters).
        assert_eq!(cut("9100"), [Number("9100")]);
        assert_eq!(cut("fc00::1/64"), [Number("fc00::1/64")]);
        assert_eq!(cut("52:54:00:00:0a:01"), [Number("52:54:00:00:0a:01")]);
        assert_eq!(cut("vlan100"), [Other("vlan"), Number("100")]);
        assert_eq!(
            cut("Ethernet8,x"),
            [Other("Ethernet"), Number("8"), Other(",x")]
        );
        assert_eq!(cut("deadbeef 1"), [Other("deadbeef "), Number("1")]);
        // A number starts where its run does, not at its first digit; an
        // `o` that starts no id is text.
        assert_eq!(cut("x fe80::1/64"), [Other("x "), Number("fe80::1/64")]);
        assert_eq!(cut("foo, o1"), [Other("foo, o"), Number("1")]);
        assert_eq!(cut("to oid:0x5"), [Other("to "), Oid(5)]);
        assert_eq!(
            cut("2:oid:0x1,oid:0x2"),
            [Number("2:"), Oid(1), Other(","), Oid(2)]
        );
        assert_eq!(cut("SAI_X:10"), [Word("SAI_X"), Number(":10")]);
    }

    #[test]
    fn strings_read_back_as_written() {
        let mut d = Dict::default();
        for s in [
            "",
            "a",
            "oid:0x0",
            "oid:0x1oid:0x2",
            "SAI_OBJECT_TYPE_ROUTE_ENTRY:{\"dest\":\"10.0.0.0/24\",\"switch_id\":\"oid:0x21000000000000\",\"vr\":\"oid:0x3000000000022\"}",
            "SAI_PACKET_ACTION_FORWARD",
            "2:oid:0x1,oid:0x2",
            "oid:0x01 oid:0x1A oid:0x12345678901234567 deadbeef 1",
            "é€😀 oid:0x7 SAI_X",
            &"9".repeat(300),
            &"oid:0x1,".repeat(200),
            &format!("SAI_{}", "A".repeat(200)),
        ] {
            round_trip(&mut d, s);
        }
    }

    #[test]
    fn repeated_words_are_held_once() {
        let mut d = Dict::default();
        let key = |i: u32| {
            format!(
                r#"SAI_OBJECT_TYPE_ROUTE_ENTRY:{{"dest":"10.{}.{}.0/24","switch_id":"oid:0x21000000000000","vr":"oid:0x3000000000022"}}"#,
                i >> 8,
                i & 255
            )
        };
        let first = round_trip(&mut d, &key(1));
        let words = d.len();
        for i in 2..1000 {
            let b = round_trip(&mut d, &key(i));
            assert!(b.len() <= first.len() + 2, "{}", b.len());
        }
        assert_eq!(d.len(), words, "only the first key added words");
        // Type, the JSON around the fields, and the digits alone as text;
        // the ids in 9 bytes each.
        assert!(
            first.len() <= 40,
            "{} bytes for {} of text",
            first.len(),
            key(1).len()
        );
        assert_eq!(round_trip(&mut d, "SAI_PACKET_ACTION_FORWARD").len(), 2);
        assert_eq!(round_trip(&mut d, "oid:0x5000000000123").len(), 10);
        // Digits are not words: numbers are held as they are.
        let before = d.len();
        round_trip(&mut d, "9100");
        round_trip(&mut d, "10.0.0.1");
        assert_eq!(d.len(), before);
        // Text without digits is.
        round_trip(&mut d, "true");
        assert_eq!(d.len(), before + 1);
        // Too long a word is not.
        round_trip(&mut d, &format!("SAI_{}", "B".repeat(WORD_MAX)));
        round_trip(&mut d, &"x".repeat(WORD_MAX + 1));
        assert_eq!(d.len(), before + 1);
        round_trip(&mut d, &format!("SAI_{}", "B".repeat(WORD_MAX - 4)));
        assert_eq!(d.len(), before + 2, "a word of WORD_MAX bytes is one");
    }

    /// Strings made of the pieces that segments are cut at, and others.
    pub(crate) fn tricky() -> proptest::strategy::BoxedStrategy<String> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just("oid:0x".to_owned()),
            Just("oid:".to_owned()),
            Just("SAI_".to_owned()),
            Just("0".to_owned()),
            any::<u64>().prop_map(|v| format!("oid:0x{v:x}")),
            "[0-9a-fA-F.:/]{1,6}",
            "[A-Z_]{1,5}",
            "[a-z\"{},]{1,5}",
            "\\PC{1,3}",
        ];
        proptest::collection::vec(piece, 0..12)
            .prop_map(|v| v.concat())
            .boxed()
    }

    proptest::proptest! {
        #[test]
        fn any_string_reads_back_as_written(s in tricky(), t in "\\PC{0,40}") {
            let mut d = Dict::with_limit(8);
            round_trip(&mut d, &s);
            round_trip(&mut d, &t);
            round_trip(&mut d, &s);
        }

        /// A text starts with each of its own prefixes, and with another
        /// string exactly when the string does.
        #[test]
        fn a_text_starts_with_what_its_string_starts_with(s in tricky(), t in tricky()) {
            let mut d = Dict::with_limit(8);
            let mut b = Vec::new();
            d.encode(&s, &mut b);
            let text = Text::new(&b, &d);
            for (i, _) in s.char_indices().chain([(s.len(), ' ')]) {
                proptest::prop_assert!(text.starts_with(&s[..i]), "{:?} of {:?}", &s[..i], s);
            }
            proptest::prop_assert_eq!(text.starts_with(&t), s.starts_with(t.as_str()));
            let longer = format!("{s}x");
            proptest::prop_assert!(!text.starts_with(&longer));
        }
    }

    #[test]
    fn a_full_dictionary_holds_new_words_as_text() {
        let mut d = Dict::with_limit(3);
        let a = round_trip(&mut d, "SAI_A");
        round_trip(&mut d, "SAI_B");
        round_trip(&mut d, "SAI_C");
        assert_eq!(d.len(), 3);
        let full = round_trip(&mut d, "SAI_D");
        assert_eq!(d.len(), 3);
        assert_eq!(full, [1, 5 << 2, b'S', b'A', b'I', b'_', b'D']);
        assert_eq!(
            round_trip(&mut d, "SAI_A"),
            a,
            "words it holds are still used"
        );
        assert_eq!(a, [1, 2]);
    }

    #[test]
    fn ids_are_written_as_sai_writes_them() {
        for v in [
            0,
            1,
            0xf,
            0x10,
            0xabc,
            0x21000000000000,
            u64::MAX >> 4,
            u64::MAX,
        ] {
            assert_eq!(oid_text(v, &mut [0; 22]), format!("oid:0x{v:x}").as_bytes());
        }
    }

    #[test]
    fn a_string_is_looked_up_by_the_bytes_it_was_written_as() {
        let mut d = Dict::with_limit(3);
        let written = |d: &mut Dict, s: &str| {
            let mut b = Vec::new();
            d.encode(s, &mut b);
            b
        };
        let looked = |d: &Dict, s: &str| {
            let mut b = Vec::new();
            d.encode_lookup(s, &mut b);
            b
        };
        let a = written(&mut d, "SAI_A:oid:0x1");
        assert_eq!(looked(&d, "SAI_A:oid:0x1"), a);
        // Not written yet: its words have no number, and the bytes differ
        // from what writing it gives (which no stored string has yet).
        let before = looked(&d, "SAI_B:x");
        assert_eq!(d.len(), 2, "a look-up numbers nothing: SAI_A and ':'");
        let b = written(&mut d, "SAI_B:x");
        assert_ne!(before, b);
        assert_eq!(looked(&d, "SAI_B:x"), b);
        // Full: written as text, and looked up as text, for ever.
        let c = written(&mut d, "SAI_C");
        assert_eq!(c[1], 5 << 2);
        assert_eq!(looked(&d, "SAI_C"), c);
        assert_eq!(written(&mut d, "SAI_C"), c);
    }

    #[test]
    fn a_string_of_many_tokens_counts_them_in_two_bytes() {
        let mut d = Dict::default();
        let s = "oid:0x1,".repeat(100); // 200 tokens
        let b = round_trip(&mut d, &s);
        assert_eq!(&b[..2], [200 | 0x80, 1]);
        // 127 and 128 tokens: the last count of one byte, the first of two.
        let s = "oid:0x1,".repeat(64);
        let b = round_trip(&mut d, &s[..s.len() - 1]);
        assert_eq!(b[0], 127);
        let b = round_trip(&mut d, &s);
        assert_eq!(&b[..2], [0x80, 1]);
    }

    #[test]
    fn texts_are_redis_arguments_as_they_read() {
        let mut d = Dict::default();
        let s = "SAI_X:oid:0x1f,10.0.0.1,oid:0xffffffffffffffff";
        let mut b = Vec::new();
        d.encode(s, &mut b);
        let t = Text::new(&b, &d);
        let mut c = redis::cmd("HSET");
        c.arg(t).arg("x");
        assert_eq!(
            c.args_iter().map(|a| format!("{a:?}")).collect::<Vec<_>>(),
            redis::cmd("HSET")
                .arg(s)
                .arg("x")
                .args_iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn texts_compare_by_their_strings() {
        let mut d1 = Dict::default();
        let mut d2 = Dict::default();
        d2.encode("SAI_OTHER", &mut Vec::new());
        let (mut b1, mut b2) = (Vec::new(), Vec::new());
        d1.encode("SAI_X:oid:0x1", &mut b1);
        d2.encode("SAI_X:oid:0x1", &mut b2);
        assert_ne!(b1, b2, "numbered differently");
        assert_eq!(Text::new(&b1, &d1), Text::new(&b2, &d2));
        let mut b3 = Vec::new();
        d2.encode("SAI_X:oid:0x2", &mut b3);
        assert_ne!(Text::new(&b1, &d1), Text::new(&b3, &d2));
        assert_eq!(format!("{:?}", Text::new(&b1, &d1)), "\"SAI_X:oid:0x1\"");
        let t = Text::new(&b1, &d1);
        let (same, other) = ("SAI_X:oid:0x1", "SAI_X:oid:0x2");
        let (same_owned, other_owned) = (same.to_owned(), other.to_owned());
        assert!(t == *same && t == same && t == same_owned);
        assert!(t != *other && t != other && t != other_owned);
    }

    #[test]
    fn a_string_of_one_piece_is_borrowed() {
        let mut d = Dict::default();
        for (s, borrowed) in [
            ("", true),
            ("SAI_X", true),
            ("10.0.0.1", true),
            ("oid:0x1", false),
            ("SAI_X:oid:0x1", false),
        ] {
            let mut b = Vec::new();
            d.encode(s, &mut b);
            let t = Text::new(&b, &d).to_str();
            assert_eq!(t, s);
            assert_eq!(matches!(t, Cow::Borrowed(_)), borrowed, "{s:?}");
        }
    }

    /// Strings of the bytes segments are cut at, against dictionaries that
    /// fill up part way: each reads back, a near miss is not it, and it is
    /// written as the same bytes every time (the store compares keys it
    /// writes byte for byte).
    #[test]
    fn a_string_is_written_as_the_same_bytes_every_time() {
        const ALPHA: &[&str] = &[
            "o",
            "i",
            "d",
            ":",
            "0",
            "x",
            "1",
            "9",
            "a",
            "f",
            "A",
            "F",
            "g",
            "S",
            "I",
            "_",
            "é",
            "😀",
            ".",
            "/",
            "\"",
            "oid:0x",
            "SAI_",
            "oid:0x0",
            "ffffffffffffffff",
        ];
        let mut rng = sairing_testkit::XorShift::new(0x9e3779b97f4a7c15);
        let mut rnd = move || rng.next_u64();
        for limit in [0usize, 1, 5, 50, DICT_MAX] {
            let mut d = Dict::with_limit(limit);
            let mut seen: Vec<(String, Vec<u8>)> = Vec::new();
            for _ in 0..20_000 {
                let n = (rnd() % 40) as usize;
                let s: String = (0..n)
                    .map(|_| ALPHA[(rnd() % ALPHA.len() as u64) as usize])
                    .collect();
                let b = round_trip(&mut d, &s);
                // Written again at once, and (below) once the dictionary
                // has changed: the same bytes.
                let mut again = Vec::new();
                d.encode(&s, &mut again);
                assert_eq!(again, b, "{s:?}");
                let t = Text::new(&b, &d);
                let mut m = s.clone();
                m.push('0');
                assert!(!t.is(&m));
                assert_eq!(t.to_str(), s);
                seen.push((s, b));
            }
            for (s, b) in &seen {
                let mut again = Vec::new();
                d.encode(s, &mut again);
                assert_eq!(&again, b, "limit {limit}: {s:?} written twice differs");
            }
        }
    }
}
