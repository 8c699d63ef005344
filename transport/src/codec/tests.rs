//! The codec's unit tests: round trips, and every malformed input refused.

use super::*;
use proptest::prelude::*;

fn enc_req<'a>(op: Op, key: &str, body: Body<'_, (&'a str, &'a str)>) -> Vec<u8> {
    let mut b = vec![0; request_len(key, &body)];
    encode_request(&mut b, op, 7, 42, key, &body).unwrap();
    b
}

#[test]
fn request_round_trip() {
    let attrs = [
        ("SAI_PORT_ATTR_ADMIN_STATE", "true"),
        ("SAI_PORT_ATTR_MTU", "9100"),
    ];
    let b = enc_req(
        Op::Set,
        "SAI_OBJECT_TYPE_PORT:oid:0x1000000000002",
        Body::Attrs(&attrs),
    );
    let r = decode_request(&b, 1).unwrap();
    assert_eq!(
        (r.op, r.epoch, r.seq, r.key),
        (Op::Set, 7, 42, "SAI_OBJECT_TYPE_PORT:oid:0x1000000000002")
    );
    assert_eq!(r.attrs.clone().collect::<Vec<_>>(), attrs.to_vec());
    assert!(r.objects.is_empty());
}

#[test]
fn bulk_round_trip() {
    let a1 = [(
        "SAI_ROUTE_ENTRY_ATTR_PACKET_ACTION",
        "SAI_PACKET_ACTION_FORWARD",
    )];
    let objs = [
        BulkObject {
            id: r#"{"dest":"10.0.0.0/24","switch_id":"oid:0x21000000000000","vr":"oid:0x3000000000022"}"#,
            attrs: &a1[..],
        },
        BulkObject {
            id: r#"{"dest":"10.0.1.0/24","switch_id":"oid:0x21000000000000","vr":"oid:0x3000000000022"}"#,
            attrs: &[][..],
        },
    ];
    let b = enc_req(
        Op::BulkCreate,
        "SAI_OBJECT_TYPE_ROUTE_ENTRY",
        Body::Bulk(&objs),
    );
    let r = decode_request(&b, 1).unwrap();
    let got: Vec<_> = r
        .objects
        .map(|(id, a)| (id, a.collect::<Vec<_>>()))
        .collect();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, objs[0].id);
    assert_eq!(got[0].1, a1.to_vec());
    assert!(got[1].1.is_empty());
}

#[test]
fn response_and_notification_round_trip() {
    let attrs = [("SAI_SWITCH_ATTR_CPU_PORT", "oid:0x1000000000001")];
    let st = ["SAI_STATUS_SUCCESS", "SAI_STATUS_ITEM_ALREADY_EXISTS"];
    let mut b = vec![0; response_len("SAI_STATUS_SUCCESS", &attrs, &st)];
    encode_response(&mut b, Op::Get, 3, 99, "SAI_STATUS_SUCCESS", &attrs, &st);
    let r = decode_response(&b, 5).unwrap();
    assert_eq!(
        (r.op, r.epoch, r.seq, r.status),
        (Op::Get, 3, 99, "SAI_STATUS_SUCCESS")
    );
    assert_eq!(r.attrs.collect::<Vec<_>>(), attrs.to_vec());
    assert_eq!(r.statuses, st.to_vec());
    let json = r#"[{"port_id":"oid:0x1000000000002","port_state":"SAI_PORT_OPER_STATUS_UP"}]"#;
    let mut b = vec![0; notification_len("port_state_change", json)];
    encode_notification(&mut b, "port_state_change", json);
    let n = decode_notification(&b, 6).unwrap();
    assert_eq!((n.name, n.payload), ("port_state_change", json));
}

/// A status count is judged against the bytes left after it, not the
/// record's size: a count that the record could never hold is refused before
/// anything is allocated for it.
#[test]
fn a_status_count_beyond_the_bytes_left_is_refused_up_front() {
    let status = "S".repeat(100);
    let none: [(&str, &str); 0] = [];
    let statuses: [&str; 0] = [];
    let mut b = vec![0; response_len(&status, &none, &statuses)];
    encode_response(&mut b, Op::BulkSet, 1, 2, &status, &none, &statuses);
    let at = MESSAGE_HEADER_LEN + 4 + status.len();
    assert_eq!(b.len(), at + 4);
    let m = ((b.len() - MESSAGE_HEADER_LEN) / 4 - 1) as u32;
    b[at..at + 4].copy_from_slice(&m.to_le_bytes());
    let e = decode_response(&b, 5).unwrap_err();
    assert_eq!(e.what, "more statuses than bytes to hold them");
    // Named at the count's own offset.
    assert_eq!(e.offset, at);
    // With bytes left (two statuses, twelve bytes): three statuses would fit
    // them by their lengths alone, four cannot, and are refused before any
    // string is read.
    let two = ["ab", "cd"];
    let mut b = vec![0; response_len("S", &none, &two)];
    encode_response(&mut b, Op::BulkSet, 1, 2, "S", &none, &two);
    let at = MESSAGE_HEADER_LEN + 4 + 1;
    b[at..at + 4].copy_from_slice(&4u32.to_le_bytes());
    let e = decode_response(&b, 5).unwrap_err();
    assert_eq!(
        (e.what, e.offset),
        ("more statuses than bytes to hold them", at)
    );
    b[at..at + 4].copy_from_slice(&3u32.to_le_bytes());
    assert_eq!(
        decode_response(&b, 5).unwrap_err().what,
        "length runs past the end"
    );
}

#[test]
fn errors_name_the_record_and_place() {
    let b = enc_req(
        Op::Create,
        "SAI_OBJECT_TYPE_VLAN:oid:0x1",
        Body::Attrs(&[("a", "b")]),
    );
    // Truncated.
    let e = decode_request(&b[..b.len() - 1], 77).unwrap_err();
    assert_eq!(e.record_seq, 77);
    assert_eq!(e.what, "body length disagrees with the record length");
    // A string length beyond the end, with a consistent body length.
    let mut bad = b.clone();
    bad[24..28].copy_from_slice(&1000u32.to_le_bytes());
    let e = decode_request(&bad, 78).unwrap_err();
    assert_eq!((e.what, e.offset), ("string runs past the end", 24));
    assert!(e.to_string().contains("record 78"));
    // Not UTF-8: the offset is the string's first byte.
    let mut bad = b.clone();
    bad[28] = 0xFF;
    let e = decode_request(&bad, 1).unwrap_err();
    assert_eq!((e.what, e.offset), ("string is not UTF-8", 28));
    // A count beyond the pairs there are: the next length runs past the end,
    // at the end.
    let mut bad = b.clone();
    bad[16..20].copy_from_slice(&2u32.to_le_bytes());
    let e = decode_request(&bad, 1).unwrap_err();
    assert_eq!((e.what, e.offset), ("length runs past the end", b.len()));
    // Unknown op and version.
    let mut bad = b.clone();
    bad[1] = 200;
    assert_eq!(decode_request(&bad, 1).unwrap_err().what, "unknown op");
    let mut bad = b;
    bad[0] = 9;
    assert_eq!(
        decode_request(&bad, 1).unwrap_err().what,
        "unknown codec version"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    /// Arbitrary bytes: every decoder returns an error or a value, never panics,
    /// and iterating what it returns never panics either.
    #[test]
    fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(r) = decode_request(&bytes, 1) {
            let _ = r.attrs.clone().count();
            let _ = r.objects.clone().map(|(_, a)| a.count()).sum::<usize>();
        }
        let _ = decode_response(&bytes, 1).map(|r| r.attrs.count());
        let _ = decode_notification(&bytes, 1);
    }

    /// Valid messages with random mutations: still never a panic, and an
    /// unmutated message always decodes to what was encoded.
    #[test]
    fn mutated_messages_never_panic(
        key in "[A-Z_]{1,20}:oid:0x[0-9a-f]{1,16}",
        attrs in proptest::collection::vec(("[A-Z_]{1,24}", "[ -~]{0,24}"), 0..6),
        flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 0..4),
    ) {
        let pairs: Vec<(&str, &str)> = attrs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        let mut b = enc_req(Op::Create, &key, Body::Attrs(&pairs));
        let r = decode_request(&b, 1).unwrap();
        prop_assert_eq!(r.key, key.as_str());
        prop_assert_eq!(r.attrs.collect::<Vec<_>>(), pairs.clone());
        for (at, v) in flips {
            let n = b.len();
            b[at % n] ^= v;
        }
        if let Ok(r) = decode_request(&b, 1) {
            let _ = r.attrs.count();
        }
    }
}

/// The fast text check agrees with the standard one: every length up to 100,
/// a high byte at every position (in whole words and in the last, partial one),
/// and
/// valid non-ASCII UTF-8 accepted.
#[test]
fn text_finds_a_high_byte_anywhere() {
    for len in 0..100usize {
        let mut v: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        assert!(text(&v).is_ok(), "len {len}");
        assert!(super::ascii(&v), "len {len}");
        // Two high bytes eight apart land in the same lane of the two halves
        // of a 16-byte chunk: they must not cancel out.
        for at in 0..len.saturating_sub(8) {
            let keep = (v[at], v[at + 8]);
            (v[at], v[at + 8]) = (0xFF, 0xFF);
            assert!(!super::ascii(&v), "len {len}, 0xff at {at} and {}", at + 8);
            assert!(text(&v).is_err());
            (v[at], v[at + 8]) = keep;
        }
        for at in 0..len {
            for high in [0x80u8, 0xC3, 0xFF] {
                let keep = v[at];
                v[at] = high;
                assert_eq!(text(&v).is_ok(), std::str::from_utf8(&v).is_ok());
                assert!(!super::ascii(&v), "len {len}, {high:#x} at {at}");
                v[at] = keep;
            }
        }
    }
    // Every byte high: an even number of them must not cancel out either.
    for len in 1..40 {
        let v = vec![0xFFu8; len];
        assert!(!super::ascii(&v) && text(&v).is_err(), "len {len}");
    }
    assert_eq!(
        text("höhe ünd 10.0.0.0/8".as_bytes()),
        Ok("höhe ünd 10.0.0.0/8")
    );
}

/// Text whose type does not promise UTF-8, as the C API hands it over. It
/// keeps `Text::CHECKED`'s default: an implementation that says nothing is
/// checked.
struct Raw<'a>(&'a [u8]);

impl Text for Raw<'_> {
    fn text_bytes(&self) -> &[u8] {
        self.0
    }
}

struct RawAttr<'a>(Raw<'a>, Raw<'a>);

impl<'a> Attr for RawAttr<'a> {
    type Text = Raw<'a>;
    fn name(&self) -> &Raw<'a> {
        &self.0
    }
    fn value(&self) -> &Raw<'a> {
        &self.1
    }
}

/// Unchecked text is checked as it is encoded: ASCII and other UTF-8 go
/// through intact; bytes that are not UTF-8 in the key, a name, a value or a
/// bulk object's id are refused, naming which.
#[test]
fn unchecked_text_is_checked_while_encoded() {
    let encode = |key: &[u8], body: &Body<'_, RawAttr<'_>>| {
        let mut b = vec![0; request_len(&Raw(key), body)];
        encode_request(&mut b, Op::Set, 1, 1, &Raw(key), body).map(|()| b)
    };
    let port = b"SAI_OBJECT_TYPE_PORT:oid:0x1000000000002";
    let attr = |n: &'static [u8], v: &'static [u8]| RawAttr(Raw(n), Raw(v));
    let fine = [attr(b"SAI_HOSTIF_ATTR_NAME", "Ethernet\u{e9}".as_bytes())];
    let b = encode(port, &Body::Attrs(&fine)).unwrap();
    let r = decode_request(&b, 1).unwrap();
    assert_eq!(
        r.attrs.clone().collect::<Vec<_>>(),
        [("SAI_HOSTIF_ATTR_NAME", "Ethernet\u{e9}")]
    );
    let what = |r: Result<Vec<u8>, NotText>| r.unwrap_err().what;
    assert_eq!(what(encode(b"SAI\xff", &Body::Attrs(&fine))), "the key");
    let bad_name = [attr(b"SAI_\xc3", b"1")];
    assert_eq!(
        what(encode(port, &Body::Attrs(&bad_name))),
        "an attribute name"
    );
    // Eight and more bytes: the high bit is found in a later word too.
    let bad_value = [attr(b"SAI_PORT_ATTR_MTU", b"91000000000000000\x80")];
    assert_eq!(
        what(encode(port, &Body::Attrs(&bad_value))),
        "an attribute value"
    );
    let objs = [BulkObject {
        id: &Raw(b"oid:0x\xfe"),
        attrs: &fine[..],
    }];
    assert_eq!(
        what(encode(b"SAI_OBJECT_TYPE_PORT", &Body::Bulk(&objs))),
        "an object id"
    );
}

/// Every op byte: exactly 1 to 11 are ops, each is its own byte back, the
/// four bulk ones are bulk, and every request op survives a round trip.
#[test]
fn every_op_round_trips() {
    let ops: Vec<(u8, Op)> = (0..=255u8)
        .filter_map(|b| Op::from_u8(b).map(|o| (b, o)))
        .collect();
    assert_eq!(
        ops.iter().map(|&(b, _)| b).collect::<Vec<_>>(),
        (1..=11).collect::<Vec<_>>()
    );
    // sairedis's spelling (its REDIS_ASIC_STATE_COMMAND_* strings, lower
    // case), one name per op.
    let names: Vec<&str> = ops.iter().map(|&(_, o)| o.name()).collect();
    assert_eq!(
        names,
        [
            "create",
            "remove",
            "set",
            "get",
            "bulkcreate",
            "bulkremove",
            "bulkset",
            "bulkget",
            "notify",
            "flush",
            "notification"
        ]
    );
    for (b, op) in ops {
        assert_eq!(op as u8, b);
        assert_eq!(op.is_bulk(), (5..=8).contains(&b), "{op:?}");
        if op == Op::Notification {
            continue;
        }
        let body = if op.is_bulk() {
            Body::Bulk(&[])
        } else {
            Body::Attrs(&[])
        };
        let b = enc_req(op, "SAI_OBJECT_TYPE_PORT", body);
        assert_eq!(decode_request(&b, 1).unwrap().op, op);
    }
}

/// Bytes after the message's last field, inside a body length that covers
/// them, are refused by every decoder.
#[test]
fn trailing_bytes_are_refused() {
    let trailing = |mut b: Vec<u8>| {
        b.extend_from_slice(&[0, 0, 0, 0]);
        let body = (b.len() - MESSAGE_HEADER_LEN) as u32;
        b[20..24].copy_from_slice(&body.to_le_bytes());
        b
    };
    let what = "trailing bytes after the message";
    let req = enc_req(
        Op::Set,
        "SAI_OBJECT_TYPE_PORT:oid:0x1",
        Body::Attrs(&[("a", "b")]),
    );
    let e = decode_request(&trailing(req.clone()), 5).unwrap_err();
    assert_eq!((e.what, e.offset), (what, req.len()));
    let bulk = enc_req(Op::BulkRemove, "SAI_OBJECT_TYPE_PORT", Body::Bulk(&[]));
    assert_eq!(decode_request(&trailing(bulk), 5).unwrap_err().what, what);
    let none: [(&str, &str); 0] = [];
    let mut resp = vec![0; response_len("SAI_STATUS_SUCCESS", &none, &["x"])];
    encode_response(
        &mut resp,
        Op::Get,
        1,
        2,
        "SAI_STATUS_SUCCESS",
        &none,
        &["x"],
    );
    assert!(decode_response(&resp, 1).is_ok());
    assert_eq!(decode_response(&trailing(resp), 1).unwrap_err().what, what);
    let mut n = vec![0; notification_len("port_state_change", "[]")];
    encode_notification(&mut n, "port_state_change", "[]");
    assert!(decode_notification(&n, 1).is_ok());
    assert_eq!(decode_notification(&trailing(n), 1).unwrap_err().what, what);
}

/// The counts a decoded message reports, and its iterators, agree with what
/// was encoded: none, one, several, as attributes and as bulk objects.
#[test]
fn counts_agree_with_what_was_encoded() {
    let pairs = [("a", "1"), ("b", "2"), ("c", "3")];
    for n in 0..=pairs.len() {
        let b = enc_req(
            Op::Create,
            "SAI_OBJECT_TYPE_VLAN:oid:0x1",
            Body::Attrs(&pairs[..n]),
        );
        let r = decode_request(&b, 1).unwrap();
        assert_eq!((r.attrs.len(), r.attrs.is_empty()), (n, n == 0));
        assert_eq!(r.attrs.clone().count(), n);
        // The count goes down as the pairs are taken.
        let mut it = r.attrs.clone();
        for left in (0..n).rev() {
            assert!(it.next().is_some());
            assert_eq!(it.len(), left);
        }
        assert!(it.next().is_none());
        assert_eq!(r.attrs.to_vec().len(), n);
        assert_eq!((r.objects.len(), r.objects.is_empty()), (0, true));
        let objs: Vec<BulkObject<'_, (&str, &str)>> = (0..n)
            .map(|i| BulkObject {
                id: ["oid:0x1", "oid:0x2", "oid:0x3"][i],
                attrs: &pairs[..i],
            })
            .collect();
        let b = enc_req(Op::BulkSet, "SAI_OBJECT_TYPE_VLAN", Body::Bulk(&objs));
        let r = decode_request(&b, 1).unwrap();
        assert_eq!((r.objects.len(), r.objects.is_empty()), (n, n == 0));
        assert_eq!((r.attrs.len(), r.attrs.is_empty()), (0, true));
        let mut it = r.objects.clone();
        for left in (0..n).rev() {
            assert!(it.next().is_some());
            assert_eq!(it.len(), left);
        }
        assert!(it.next().is_none());
        let got: Vec<(&str, usize, usize)> =
            r.objects.map(|(id, a)| (id, a.len(), a.count())).collect();
        let want: Vec<(&str, usize, usize)> = objs
            .iter()
            .map(|o| (o.id, o.attrs.len(), o.attrs.len()))
            .collect();
        assert_eq!(got, want);
    }
}

/// Statuses that fill the bytes left exactly (empty ones, four bytes each)
/// are not too many: the bound on the allocation is the bytes left, no less.
#[test]
fn statuses_filling_the_bytes_left_exactly_decode() {
    let none: [(&str, &str); 0] = [];
    for m in 0..4 {
        let statuses = vec![""; m];
        let mut b = vec![0; response_len("", &none, &statuses)];
        encode_response(&mut b, Op::BulkSet, 1, 2, "", &none, &statuses);
        assert_eq!(decode_response(&b, 1).unwrap().statuses, statuses);
    }
}
