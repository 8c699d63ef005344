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
    // Not UTF-8.
    let mut bad = b.clone();
    bad[28] = 0xFF;
    assert_eq!(
        decode_request(&bad, 1).unwrap_err().what,
        "string is not UTF-8"
    );
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
    for len in 0..100 {
        let mut v: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        assert!(text(&v).is_ok(), "len {len}");
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
    assert_eq!(
        text("höhe ünd 10.0.0.0/8".as_bytes()),
        Ok("höhe ünd 10.0.0.0/8")
    );
}

/// Text whose type does not promise UTF-8, as the C API hands it over.
struct Raw<'a>(&'a [u8]);

impl Text for Raw<'_> {
    const CHECKED: bool = false;
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
