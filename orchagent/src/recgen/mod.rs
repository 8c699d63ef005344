//! The project's own `sairedis.rec` recordings: realistic, deterministic, one
//! file per kind of line a recording can hold, and one switch bring-up that
//! holds them all. The test suite replays these (never anyone else's files), and
//! a test checks that `orchagent generate-recordings` writes them byte for byte.
//!
//! Every file starts as SONiC's orchagent starts (`#|recording on`, INIT_VIEW,
//! the switch create and a get of its default virtual router) and ends with
//! APPLY_VIEW, so each replays on its own against a fresh syncd. Timestamps
//! advance from a fixed instant by a few hundred microseconds a line, so the
//! files are the same on every machine.
//!
//! | file | what it exercises |
//! |---|---|
//! | `create.rec` | `c`: VLANs, router interfaces, next hops, an attribute-less create as `NULL=NULL` |
//! | `set.rec` | `s`: port admin state, MTU and speed, VLAN attributes |
//! | `remove.rec` | `r`: creates, then removes some of them |
//! | `get.rec` | `g` and its answer `G` (one answer a non-success, as real recordings have) |
//! | `bulk_create.rec` | `C`: routes and next-hop-group members |
//! | `bulk_set.rec` | `S`: routes moved to another next hop |
//! | `bulk_remove.rec` | `R`: routes withdrawn |
//! | `bulk_get.rec` | `B` and its answer `G\|<status>\|\|<status>\|...` |
//! | `notify.rec` | `a` and its answer `A`: INIT_VIEW, APPLY_VIEW |
//! | `flush.rec` | `f` and its answer `F`: dynamic FDB entries flushed, static ones kept |
//! | `notification.rec` | `n`: port_state_change and fdb_event, also between a `g` and its `G` |
//! | `failure.rec` | `E`: already exists, not found, invalid parameter, a bulk call with one failed object |
//! | `query.rec` | `q` and `Q`: attribute capability, object availability, stats |
//! | `counter_polling.rec` | `p` |
//! | `comment.rec` | `#`: recording and logrotate comments |
//! | `sleep.rec` | `@`: sleeps of a few milliseconds |
//! | `timeout.rec` | `T`: sairedis's synchronous response timeout |
//! | `entry_keys.rec` | keys in JSON: route, neighbour, FDB and in-segment entries created, set and removed |
//! | `bringup.rec` | all of the above in one switch bring-up: 32 ports, VLANs, interfaces, neighbours, ECMP groups, 3,000 routes |

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use sairing_rec::timestamp;

mod files;

/// The switch's OID in every recording.
pub const SWITCH: &str = "oid:0x21000000000000";
/// The default virtual router, as the switch reports it.
pub const VR: &str = "oid:0x3000000000022";
const OK: &str = sairing_transport::codec::STATUS_SUCCESS;

/// Writes the body of one recording (between its start and APPLY_VIEW).
pub type Body = fn(&mut Rec);

/// The recordings, in the order they are written: (file name, body).
pub const RECORDINGS: &[(&str, Body)] = &[
    ("create.rec", files::create),
    ("set.rec", files::set),
    ("remove.rec", files::remove),
    ("get.rec", files::get),
    ("bulk_create.rec", files::bulk_create),
    ("bulk_set.rec", files::bulk_set),
    ("bulk_remove.rec", files::bulk_remove),
    ("bulk_get.rec", files::bulk_get),
    ("notify.rec", files::notify),
    ("flush.rec", files::flush),
    ("notification.rec", files::notification),
    ("failure.rec", files::failure),
    ("query.rec", files::query),
    ("counter_polling.rec", files::counter_polling),
    ("comment.rec", files::comment),
    ("sleep.rec", files::sleep),
    ("timeout.rec", files::timeout),
    ("entry_keys.rec", files::entry_keys),
    ("bringup.rec", files::bringup),
];

/// A recording being written.
pub struct Rec {
    out: String,
    /// Microseconds since the epoch of the last line.
    t: u64,
    state: u64,
}

fn oid(ty: u64, n: u64) -> String {
    format!("oid:0x{:x}", ty << 48 | n)
}

fn port(i: u64) -> String {
    oid(0x1, 2 + i)
}

fn route_key(prefix: &str) -> String {
    format!(r#"{{"dest":"{prefix}","switch_id":"{SWITCH}","vr":"{VR}"}}"#)
}

fn neighbor_key(ip: &str, rif: &str) -> String {
    format!(r#"{{"ip":"{ip}","rif":"{rif}","switch_id":"{SWITCH}"}}"#)
}

fn fdb_key(mac: &str, bvid: &str) -> String {
    format!(r#"{{"bvid":"{bvid}","mac":"{mac}","switch_id":"{SWITCH}"}}"#)
}

fn mac(i: u64) -> String {
    format!(
        "52:54:00:{:02x}:{:02x}:{:02x}",
        i >> 16 & 0xff,
        i >> 8 & 0xff,
        i & 0xff
    )
}

fn kv(attrs: &[(&str, String)]) -> String {
    attrs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("|")
}

impl Rec {
    fn new(seed: u64) -> Rec {
        // 2026-03-02 08:00:00 UTC.
        Rec {
            out: String::new(),
            t: 1_772_438_400_000_000,
            state: seed,
        }
    }

    fn next(&mut self) -> u64 {
        // splitmix64: the same sequence on every machine.
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// One line, `<timestamp>|<body>`.
    fn line(&mut self, body: &str) {
        self.t += 20 + self.next() % 400;
        let ts = timestamp(UNIX_EPOCH + Duration::from_micros(self.t));
        self.out.push_str(&ts);
        self.out.push('|');
        self.out.push_str(body);
        self.out.push('\n');
    }

    fn create(&mut self, key: &str, attrs: &[(&str, String)]) {
        if attrs.is_empty() {
            // sairedis records an attribute-less create so that the object
            // still lands in ASIC_DB.
            self.line(&format!("c|{key}|NULL=NULL"));
        } else {
            self.line(&format!("c|{key}|{}", kv(attrs)));
        }
    }

    fn set(&mut self, key: &str, attr: &str, value: &str) {
        self.line(&format!("s|{key}|{attr}={value}"));
    }

    fn remove(&mut self, key: &str) {
        self.line(&format!("r|{key}"));
    }

    fn get(&mut self, key: &str, attrs: &[(&str, String)], answer: &[(&str, String)]) {
        self.line(&format!("g|{key}|{}", kv(attrs)));
        self.line(&format!("G|{OK}|{}", kv(answer)));
    }

    fn bulk(&mut self, letter: char, ty: &str, objects: &[(String, Vec<(&str, String)>)]) {
        let mut l = format!("{letter}|SAI_OBJECT_TYPE_{ty}");
        for (id, attrs) in objects {
            l.push_str("||");
            l.push_str(id);
            for (n, v) in attrs {
                l.push_str(&format!("|{n}={v}"));
            }
        }
        self.line(&l);
    }

    fn notify(&mut self, what: &str) {
        self.line(&format!("a|{what}"));
        self.line(&format!("A|{OK}"));
    }

    fn comment(&mut self, text: &str) {
        self.line(&format!("#|{text}"));
    }

    fn port_state(&mut self, i: u64, up: bool) {
        let st = if up { "UP" } else { "DOWN" };
        self.line(&format!(
            r#"n|port_state_change|[{{"port_id":"{}","port_state":"SAI_PORT_OPER_STATUS_{st}"}}]|"#,
            port(i)
        ));
    }

    /// How SONiC's orchagent starts: recording on, INIT_VIEW, the switch, its
    /// default virtual router.
    fn start(&mut self) {
        self.comment("recording on: ./sairedis.rec");
        self.notify("INIT_VIEW");
        self.create(
            &format!("SAI_OBJECT_TYPE_SWITCH:{SWITCH}"),
            &[
                ("SAI_SWITCH_ATTR_INIT_SWITCH", "true".into()),
                ("SAI_SWITCH_ATTR_FDB_EVENT_NOTIFY", "0x55d4d4e3a1c0".into()),
                (
                    "SAI_SWITCH_ATTR_PORT_STATE_CHANGE_NOTIFY",
                    "0x55d4d4e3a1d0".into(),
                ),
                ("SAI_SWITCH_ATTR_SRC_MAC_ADDRESS", mac(0x1234)),
            ],
        );
        self.get(
            &format!("SAI_OBJECT_TYPE_SWITCH:{SWITCH}"),
            &[(
                "SAI_SWITCH_ATTR_DEFAULT_VIRTUAL_ROUTER_ID",
                "oid:0x0".into(),
            )],
            &[("SAI_SWITCH_ATTR_DEFAULT_VIRTUAL_ROUTER_ID", VR.into())],
        );
    }

    fn finish(&mut self) {
        self.notify("APPLY_VIEW");
    }

    /// A VLAN (OID type 0x26) with its VLAN id.
    fn vlan(&mut self, n: u64) -> String {
        let key = format!("SAI_OBJECT_TYPE_VLAN:{}", oid(0x26, n));
        self.create(&key, &[("SAI_VLAN_ATTR_VLAN_ID", (100 + n).to_string())]);
        key
    }

    /// A port-based router interface (type 0x6) on port `i`.
    fn rif(&mut self, i: u64) -> String {
        let id = oid(0x6, 0x100 + i);
        self.create(
            &format!("SAI_OBJECT_TYPE_ROUTER_INTERFACE:{id}"),
            &[
                ("SAI_ROUTER_INTERFACE_ATTR_VIRTUAL_ROUTER_ID", VR.into()),
                ("SAI_ROUTER_INTERFACE_ATTR_SRC_MAC_ADDRESS", mac(0x1234)),
                (
                    "SAI_ROUTER_INTERFACE_ATTR_TYPE",
                    "SAI_ROUTER_INTERFACE_TYPE_PORT".into(),
                ),
                ("SAI_ROUTER_INTERFACE_ATTR_PORT_ID", port(i)),
                ("SAI_ROUTER_INTERFACE_ATTR_MTU", "9100".into()),
            ],
        );
        id
    }

    /// A neighbour on the interface of port `i`, and a next hop (type 0x4) to it.
    fn neighbor_and_next_hop(&mut self, i: u64, rif: &str) -> String {
        let ip = format!("10.0.{i}.1");
        self.create(
            &format!("SAI_OBJECT_TYPE_NEIGHBOR_ENTRY:{}", neighbor_key(&ip, rif)),
            &[("SAI_NEIGHBOR_ENTRY_ATTR_DST_MAC_ADDRESS", mac(0x50000 + i))],
        );
        let nh = oid(0x4, 0x200 + i);
        self.create(
            &format!("SAI_OBJECT_TYPE_NEXT_HOP:{nh}"),
            &[
                ("SAI_NEXT_HOP_ATTR_TYPE", "SAI_NEXT_HOP_TYPE_IP".into()),
                ("SAI_NEXT_HOP_ATTR_IP", ip),
                ("SAI_NEXT_HOP_ATTR_ROUTER_INTERFACE_ID", rif.into()),
            ],
        );
        nh
    }

    /// Interfaces, neighbours and next hops on ports 0..n.
    fn l3(&mut self, n: u64) -> Vec<String> {
        self.l3_on(0..n)
    }

    /// Interfaces, neighbours and next hops on these ports.
    fn l3_on(&mut self, ports: std::ops::Range<u64>) -> Vec<String> {
        ports
            .map(|i| {
                let rif = self.rif(i);
                self.neighbor_and_next_hop(i, &rif)
            })
            .collect()
    }

    fn into_text(self) -> String {
        self.out
    }
}

/// One recording's text.
pub fn generate(name: &str) -> Option<String> {
    let (i, (_, body)) = RECORDINGS
        .iter()
        .enumerate()
        .find(|(_, (n, _))| *n == name)?;
    let mut r = Rec::new(0x5a1_0000 + i as u64);
    r.start();
    body(&mut r);
    r.finish();
    Some(r.into_text())
}

/// Writes every recording into `dir` (created if missing); returns the paths.
pub fn write_all(dir: &Path) -> std::io::Result<Vec<std::path::PathBuf>> {
    std::fs::create_dir_all(dir)?;
    RECORDINGS
        .iter()
        .map(|(name, _)| {
            let path = dir.join(name);
            let text = generate(name).expect("every listed recording generates");
            std::fs::write(&path, text)?;
            Ok(path)
        })
        .collect()
}
