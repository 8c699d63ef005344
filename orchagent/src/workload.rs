//! A realistic route workload, the same for the same seed, addressable by index
//! (so a million routes never sit in memory, and a restarted orchagent can
//! resume at any request):
//!
//! 1. the switch, 32 router interfaces with a neighbour and a next hop each, and
//!    8 ECMP next-hop groups of 4 members;
//! 2. `count` route entries, keys in SONiC's JSON form, each to a next hop or a
//!    group;
//! 3. updates: every route with `index % 10 == 3` moves to another next hop;
//! 4. withdrawals: every route with `index % 10 == 7` is removed.

use std::collections::HashMap;

use sairing_transport::Op;

/// The switch's OID.
pub const SWITCH_ID: &str = "oid:0x21000000000000";
/// The default virtual router.
pub const VR_ID: &str = "oid:0x3000000000022";
const RIFS: u64 = 32;
const GROUPS: u64 = 8;
const MEMBERS: u64 = 4;

/// One request of the workload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkOp {
    /// The operation.
    pub op: Op,
    /// The key.
    pub key: String,
    /// The attributes.
    pub attrs: Vec<(String, String)>,
}

/// The workload.
#[derive(Debug, Clone, Copy)]
pub struct Routes {
    count: u64,
    seed: u64,
}

fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn oid(ty: u64, n: u64) -> String {
    format!("oid:0x{:x}", ty << 48 | n)
}

fn a(n: &str, v: impl Into<String>) -> (String, String) {
    (n.to_owned(), v.into())
}

impl Routes {
    /// `count` routes with this seed.
    pub fn new(count: u64, seed: u64) -> Routes {
        Routes { count, seed }
    }

    fn setup_len() -> u64 {
        1 + RIFS * 3 + GROUPS * (1 + MEMBERS)
    }

    /// How many requests in all.
    pub fn len(&self) -> u64 {
        Self::setup_len() + self.count + self.count.div_ceil(10) * 2
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn route_key(i: u64) -> String {
        format!(
            r#"SAI_OBJECT_TYPE_ROUTE_ENTRY:{{"dest":"{}.{}.{}.0/24","switch_id":"{SWITCH_ID}","vr":"{VR_ID}"}}"#,
            20 + (i >> 16),
            (i >> 8) & 0xff,
            i & 0xff
        )
    }

    fn target(&self, i: u64, round: u64) -> String {
        let r = mix(self.seed ^ i.wrapping_mul(31) ^ round);
        if r.is_multiple_of(4) {
            oid(0x5, 1 + (r >> 8) % GROUPS)
        } else {
            oid(0x4, 1 + (r >> 8) % RIFS)
        }
    }

    /// Indices of the routes updated and withdrawn, in order.
    fn updated(&self) -> impl Iterator<Item = u64> {
        (3..self.count).step_by(10)
    }

    fn withdrawn(&self) -> impl Iterator<Item = u64> {
        (7..self.count).step_by(10)
    }

    /// Request `i` (0-based). `None` past the end.
    pub fn get(&self, i: u64) -> Option<WorkOp> {
        let s = Self::setup_len();
        let w = |op, key: String, attrs| Some(WorkOp { op, key, attrs });
        if i == 0 {
            return w(
                Op::Create,
                format!("SAI_OBJECT_TYPE_SWITCH:{SWITCH_ID}"),
                vec![
                    a("SAI_SWITCH_ATTR_INIT_SWITCH", "true"),
                    a("SAI_SWITCH_ATTR_SRC_MAC_ADDRESS", "52:54:00:12:34:56"),
                ],
            );
        }
        if i < 1 + RIFS * 3 {
            let k = (i - 1) / 3 + 1;
            return match (i - 1) % 3 {
                0 => w(
                    Op::Create,
                    format!("SAI_OBJECT_TYPE_ROUTER_INTERFACE:{}", oid(0x6, k)),
                    vec![
                        a("SAI_ROUTER_INTERFACE_ATTR_VIRTUAL_ROUTER_ID", VR_ID),
                        a(
                            "SAI_ROUTER_INTERFACE_ATTR_TYPE",
                            "SAI_ROUTER_INTERFACE_TYPE_PORT",
                        ),
                        a("SAI_ROUTER_INTERFACE_ATTR_PORT_ID", oid(0x1, k)),
                        a("SAI_ROUTER_INTERFACE_ATTR_MTU", "9100"),
                    ],
                ),
                1 => w(
                    Op::Create,
                    format!(
                        r#"SAI_OBJECT_TYPE_NEIGHBOR_ENTRY:{{"ip":"10.0.{k}.1","rif":"{}","switch_id":"{SWITCH_ID}"}}"#,
                        oid(0x6, k)
                    ),
                    vec![a(
                        "SAI_NEIGHBOR_ENTRY_ATTR_DST_MAC_ADDRESS",
                        format!("52:54:00:00:{:02x}:01", k),
                    )],
                ),
                _ => w(
                    Op::Create,
                    format!("SAI_OBJECT_TYPE_NEXT_HOP:{}", oid(0x4, k)),
                    vec![
                        a("SAI_NEXT_HOP_ATTR_TYPE", "SAI_NEXT_HOP_TYPE_IP"),
                        a("SAI_NEXT_HOP_ATTR_IP", format!("10.0.{k}.1")),
                        a("SAI_NEXT_HOP_ATTR_ROUTER_INTERFACE_ID", oid(0x6, k)),
                    ],
                ),
            };
        }
        if i < s {
            let j = i - 1 - RIFS * 3;
            let g = j / (1 + MEMBERS) + 1;
            let m = j % (1 + MEMBERS);
            if m == 0 {
                return w(
                    Op::Create,
                    format!("SAI_OBJECT_TYPE_NEXT_HOP_GROUP:{}", oid(0x5, g)),
                    vec![a(
                        "SAI_NEXT_HOP_GROUP_ATTR_TYPE",
                        "SAI_NEXT_HOP_GROUP_TYPE_ECMP",
                    )],
                );
            }
            let nh = 1 + (g * MEMBERS + m) % RIFS;
            return w(
                Op::Create,
                format!(
                    "SAI_OBJECT_TYPE_NEXT_HOP_GROUP_MEMBER:{}",
                    oid(0x2d, g * 16 + m)
                ),
                vec![
                    a(
                        "SAI_NEXT_HOP_GROUP_MEMBER_ATTR_NEXT_HOP_GROUP_ID",
                        oid(0x5, g),
                    ),
                    a("SAI_NEXT_HOP_GROUP_MEMBER_ATTR_NEXT_HOP_ID", oid(0x4, nh)),
                ],
            );
        }
        let r = i - s;
        if r < self.count {
            return w(
                Op::Create,
                Self::route_key(r),
                vec![
                    a(
                        "SAI_ROUTE_ENTRY_ATTR_PACKET_ACTION",
                        "SAI_PACKET_ACTION_FORWARD",
                    ),
                    a("SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID", self.target(r, 0)),
                ],
            );
        }
        let u = r - self.count;
        let n_upd = self.count.div_ceil(10);
        if u < n_upd {
            let idx = 3 + u * 10;
            if idx >= self.count {
                // Fewer routes than update slots: refresh the switch instead.
                return w(
                    Op::Set,
                    format!("SAI_OBJECT_TYPE_SWITCH:{SWITCH_ID}"),
                    vec![a("SAI_SWITCH_ATTR_FDB_AGING_TIME", "600")],
                );
            }
            return w(
                Op::Set,
                Self::route_key(idx),
                vec![a("SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID", self.target(idx, 1))],
            );
        }
        let d = u - n_upd;
        if d < n_upd {
            let idx = 7 + d * 10;
            if idx >= self.count {
                return w(
                    Op::Set,
                    format!("SAI_OBJECT_TYPE_SWITCH:{SWITCH_ID}"),
                    vec![a("SAI_SWITCH_ATTR_FDB_AGING_TIME", "300")],
                );
            }
            return w(Op::Remove, Self::route_key(idx), Vec::new());
        }
        None
    }

    /// The state the whole workload leaves, object by object (attributes sorted).
    pub fn expected_state(&self) -> HashMap<String, Vec<(String, String)>> {
        let mut st: HashMap<String, Vec<(String, String)>> = HashMap::new();
        for i in 0..self.len() {
            let op = self.get(i).expect("in range");
            match op.op {
                Op::Create => {
                    st.insert(op.key, op.attrs);
                }
                Op::Set => {
                    let o = st.entry(op.key).or_default();
                    for (n, v) in op.attrs {
                        match o.iter_mut().find(|(k, _)| *k == n) {
                            Some(slot) => slot.1 = v,
                            None => o.push((n, v)),
                        }
                    }
                }
                Op::Remove => {
                    st.remove(&op.key);
                }
                _ => {}
            }
        }
        for v in st.values_mut() {
            v.sort();
        }
        st
    }

    /// How many objects the whole workload leaves: `expected_state().len()`,
    /// counted without making it.
    pub fn expected_objects(&self) -> u64 {
        1 + RIFS * 3 + GROUPS * (1 + MEMBERS) + self.surviving_routes()
    }

    /// How many routes survive (for quick checks).
    pub fn surviving_routes(&self) -> u64 {
        self.count - self.withdrawn().count() as u64
    }

    /// Indices of updated routes (for tests).
    pub fn updated_indices(&self) -> Vec<u64> {
        self.updated().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_complete() {
        let w = Routes::new(1000, 7);
        assert_eq!(w.get(5), Routes::new(1000, 7).get(5));
        assert_ne!(
            (0..w.len()).map(|i| w.get(i).unwrap()).collect::<Vec<_>>(),
            (0..w.len())
                .map(|i| Routes::new(1000, 8).get(i).unwrap())
                .collect::<Vec<_>>()
        );
        assert!(w.get(w.len()).is_none());
        let st = w.expected_state();
        // switch + 32 rif + 32 neigh + 32 nh + 8 groups + 32 members + 900 routes
        assert_eq!(st.len() as u64, 1 + 32 * 3 + 8 * 5 + w.surviving_routes());
        // Counted without the state, for every size (fewer routes than
        // update slots included).
        for n in [0, 1, 3, 7, 8, 10, 11, 17, 1000] {
            let w = Routes::new(n, 7);
            assert_eq!(
                w.expected_objects(),
                w.expected_state().len() as u64,
                "{n} routes"
            );
        }
        let keys: std::collections::HashSet<_> = (0..1000).map(Routes::route_key).collect();
        assert_eq!(keys.len(), 1000, "route keys are unique");
    }
}
