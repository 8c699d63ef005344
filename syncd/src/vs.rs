//! The virtual switch: syncd's stand-in for an ASIC. A generic SAI object store
//! with SAI's status semantics (DESIGN.md, "The virtual switch"):
//!
//! - create of an existing object: `SAI_STATUS_ITEM_ALREADY_EXISTS`, except the
//!   SWITCH object, whose second create re-attaches to it (attributes merge);
//! - remove or set of a missing *entry* (JSON key): `SAI_STATUS_ITEM_NOT_FOUND`;
//!   an *OID* object never created is a switch-owned default object: set creates
//!   its state, remove succeeds, get answers;
//! - get returns the stored attributes;
//! - a malformed key or an unknown object type: `SAI_STATUS_INVALID_PARAMETER`;
//! - a failed request changes nothing. Bulk calls judge each object on its own.
//!
//! A switch told to [`track_changes`](Switch::track_changes) also notes the
//! key of every object it changes (made, set or removed), for the Redis
//! mirror, which takes them ([`take_changes`](Switch::take_changes)) and
//! writes what the switch then holds for each.

use std::collections::HashMap;
use std::sync::Arc;

use sairing_transport::{Op, Request};

use crate::profile::Profile;
use crate::store::{Object, Store};

/// `SAI_STATUS_SUCCESS`
pub const SUCCESS: &str = sairing_transport::codec::STATUS_SUCCESS;
/// `SAI_STATUS_FAILURE` (a bulk call with at least one failed object)
pub const FAILURE: &str = "SAI_STATUS_FAILURE";
/// `SAI_STATUS_ITEM_NOT_FOUND`
pub const NOT_FOUND: &str = "SAI_STATUS_ITEM_NOT_FOUND";
/// `SAI_STATUS_ITEM_ALREADY_EXISTS`
pub const ALREADY_EXISTS: &str = "SAI_STATUS_ITEM_ALREADY_EXISTS";
/// `SAI_STATUS_INVALID_PARAMETER`
pub const INVALID_PARAMETER: &str = "SAI_STATUS_INVALID_PARAMETER";
/// A get's answer too large to send (it would not fit in the response ring).
pub const BUFFER_OVERFLOW: &str = "SAI_STATUS_BUFFER_OVERFLOW";

/// The SAI object types this switch knows (SAI 1.x `sai_object_type_t` names).
pub const OBJECT_TYPES: &[&str] = &[
    "PORT",
    "LAG",
    "VIRTUAL_ROUTER",
    "NEXT_HOP",
    "NEXT_HOP_GROUP",
    "ROUTER_INTERFACE",
    "ACL_TABLE",
    "ACL_ENTRY",
    "ACL_COUNTER",
    "ACL_RANGE",
    "ACL_TABLE_GROUP",
    "ACL_TABLE_GROUP_MEMBER",
    "HOSTIF",
    "MIRROR_SESSION",
    "SAMPLEPACKET",
    "STP",
    "HOSTIF_TRAP_GROUP",
    "POLICER",
    "WRED",
    "QOS_MAP",
    "QUEUE",
    "SCHEDULER",
    "SCHEDULER_GROUP",
    "BUFFER_POOL",
    "BUFFER_PROFILE",
    "INGRESS_PRIORITY_GROUP",
    "LAG_MEMBER",
    "HASH",
    "UDF",
    "UDF_MATCH",
    "UDF_GROUP",
    "FDB_ENTRY",
    "SWITCH",
    "HOSTIF_TRAP",
    "HOSTIF_TABLE_ENTRY",
    "NEIGHBOR_ENTRY",
    "ROUTE_ENTRY",
    "VLAN",
    "VLAN_MEMBER",
    "HOSTIF_PACKET",
    "TUNNEL_MAP",
    "TUNNEL",
    "TUNNEL_TERM_TABLE_ENTRY",
    "FDB_FLUSH",
    "NEXT_HOP_GROUP_MEMBER",
    "STP_PORT",
    "RPF_GROUP",
    "RPF_GROUP_MEMBER",
    "L2MC_GROUP",
    "L2MC_GROUP_MEMBER",
    "IPMC_GROUP",
    "IPMC_GROUP_MEMBER",
    "L2MC_ENTRY",
    "IPMC_ENTRY",
    "MCAST_FDB_ENTRY",
    "HOSTIF_USER_DEFINED_TRAP",
    "BRIDGE",
    "BRIDGE_PORT",
    "TUNNEL_MAP_ENTRY",
    "TAM",
    "SRV6_SIDLIST",
    "PORT_POOL",
    "INSEG_ENTRY",
    "DTEL",
    "DTEL_QUEUE_REPORT",
    "DTEL_INT_SESSION",
    "DTEL_REPORT_SESSION",
    "DTEL_EVENT",
    "BFD_SESSION",
    "ISOLATION_GROUP",
    "ISOLATION_GROUP_MEMBER",
    "TAM_MATH_FUNC",
    "TAM_REPORT",
    "TAM_EVENT_THRESHOLD",
    "TAM_TEL_TYPE",
    "TAM_TRANSPORT",
    "TAM_TELEMETRY",
    "TAM_COLLECTOR",
    "TAM_EVENT_ACTION",
    "TAM_EVENT",
    "NAT_ZONE_COUNTER",
    "NAT_ENTRY",
    "TAM_INT",
    "COUNTER",
    "DEBUG_COUNTER",
    "PORT_CONNECTOR",
    "PORT_SERDES",
    "MACSEC",
    "MACSEC_PORT",
    "MACSEC_FLOW",
    "MACSEC_SC",
    "MACSEC_SA",
    "SYSTEM_PORT",
    "FINE_GRAINED_HASH_FIELD",
    "SWITCH_TUNNEL",
    "MY_SID_ENTRY",
    "MY_MAC",
    "NEXT_HOP_GROUP_MAP",
    "IPSEC",
    "IPSEC_PORT",
    "IPSEC_SA",
    "GENERIC_PROGRAMMABLE",
    "ARS_PROFILE",
    "ARS",
    "ACL_TABLE_CHAIN_GROUP",
    "TWAMP_SESSION",
    "TAM_COUNTER_SUBSCRIPTION",
    "POE_DEVICE",
    "POE_PSE",
    "POE_PORT",
    "ICMP_ECHO_SESSION",
];

/// An object's attributes, in the order they were set.
pub type Attrs = Vec<(String, String)>;

/// An object's key, `SAI_OBJECT_TYPE_<T>:<id>`.
pub type Key = Arc<str>;

/// Objects by key, each attribute a string of its own: what the switch holds
/// for its default objects (the switch's own objects are in a [`Store`]).
pub type Objects = HashMap<Key, Attrs, foldhash::fast::RandomState>;

pub use crate::changed::Changed;

/// The answer to one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status.
    pub status: &'static str,
    /// Attributes returned by a get.
    pub attrs: Vec<(String, String)>,
    /// Per-object statuses of a bulk call.
    pub statuses: Vec<&'static str>,
    /// Notifications the request caused: (name, payload).
    pub notifications: Vec<(String, String)>,
}

impl Answer {
    fn status(status: &'static str) -> Answer {
        Answer {
            status,
            attrs: Vec::new(),
            statuses: Vec::new(),
            notifications: Vec::new(),
        }
    }
}

/// The notifications a successful set causes: an admin state set on a port
/// changes its oper status at once (the virtual switch has no link to wait
/// for), as `port_state_change`.
fn port_state_changes(req: &Request<'_>) -> Vec<(String, String)> {
    let Some(port) = req.key.strip_prefix("SAI_OBJECT_TYPE_PORT:") else {
        return Vec::new();
    };
    req.attrs
        .clone()
        .filter(|(n, _)| *n == "SAI_PORT_ATTR_ADMIN_STATE")
        .map(|(_, v)| {
            let state = if v == "true" {
                "SAI_PORT_OPER_STATUS_UP"
            } else {
                "SAI_PORT_OPER_STATUS_DOWN"
            };
            (
                "port_state_change".to_owned(),
                format!(r#"[{{"port_id":"{port}","port_state":"{state}"}}]"#),
            )
        })
        .collect()
}

/// What kind of id a key carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum IdKind {
    Oid,
    Entry,
}

/// Splits and checks `SAI_OBJECT_TYPE_<T>:<id>`; returns the type and id kind.
fn parse_key(key: &str) -> Option<(&str, IdKind)> {
    let rest = key.strip_prefix("SAI_OBJECT_TYPE_")?;
    let (ty, id) = rest.split_once(':')?;
    if !OBJECT_TYPES.contains(&ty) {
        return None;
    }
    if let Some(hex) = id.strip_prefix("oid:0x") {
        if !hex.is_empty() && hex.len() <= 16 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Some((ty, IdKind::Oid));
        }
        return None;
    }
    if id.starts_with('{') && id.ends_with('}') && id.len() > 2 {
        return Some((ty, IdKind::Entry));
    }
    None
}

/// The switch's state.
#[derive(Debug, Default, Clone)]
pub struct Switch {
    /// Every object and the attributes set on it (what ASIC_STATE shows).
    objects: Store,
    /// What the switch itself holds for its default objects (and for the
    /// switch): answered by gets, never mirrored, as vslib's own state.
    vendor: Objects,
    profile: Arc<Profile>,
    /// Keys changed since the mirror last took them; `None`: not tracked.
    changed: Option<Changed>,
}

/// Two switches are equal when they hold the same objects, the same default
/// objects and the same profile (whatever changes either has noted).
impl PartialEq for Switch {
    fn eq(&self, other: &Switch) -> bool {
        self.objects == other.objects
            && self.vendor == other.vendor
            && self.profile == other.profile
    }
}

impl Eq for Switch {}

impl Switch {
    /// An empty switch with the default profile (BCM56850, 32 ports).
    pub fn new() -> Switch {
        Switch::default()
    }

    /// An empty switch with `profile`: its first SWITCH create discovers the
    /// profile's default objects.
    pub fn with_profile(profile: Arc<Profile>) -> Switch {
        Switch {
            profile,
            ..Switch::default()
        }
    }

    /// A switch holding `objects` (e.g. loaded from Redis), default profile.
    pub fn from_objects(objects: Store) -> Switch {
        Switch::from_objects_with(objects, Arc::default())
    }

    /// A switch holding `objects`, with `profile`. A switch among them gets
    /// back what it holds for its default objects (they are made the same way
    /// every time): for those still there, not for those removed.
    pub fn from_objects_with(objects: Store, profile: Arc<Profile>) -> Switch {
        let mut s = Switch {
            objects,
            vendor: Objects::default(),
            profile,
            changed: None,
        };
        // Every key is looked at: read only as far as its object type.
        let switches: Vec<Key> = s
            .objects
            .iter()
            .map(|o| o.key())
            .filter(|k| k.starts_with("SAI_OBJECT_TYPE_SWITCH:"))
            .map(|k| Key::from(&*k.to_str()))
            .collect();
        for sw in switches {
            let d = s.profile.defaults();
            let mut gone = Vec::new();
            for (k, attrs) in d.objects {
                if s.objects.contains(&k) {
                    s.vendor.insert(k.into(), attrs);
                } else {
                    gone.push(k);
                }
            }
            s.vendor.insert(sw, d.switch);
            for k in gone {
                s.forget(&k);
            }
        }
        s
    }

    /// Makes the default objects a newly created switch discovers, each shown
    /// without attributes (NULL/NULL in ASIC_STATE, as SONiC's syncd writes
    /// them), and what the switch holds for them and for itself.
    /// A default object already there (the switch created again after a
    /// remove) keeps what was set on it.
    fn discover(&mut self, switch: &str) {
        let d = self.profile.defaults();
        for (k, attrs) in d.objects {
            if self.objects.create(&k, std::iter::empty()) {
                self.changed(&k, true);
            }
            self.vendor.insert(k.into(), attrs);
        }
        self.vendor.insert(switch.into(), d.switch);
    }

    /// From now on, note the key of every object changed, until taken.
    pub fn track_changes(&mut self) {
        self.changed.get_or_insert_with(Changed::default);
    }

    /// The keys of the objects changed since the last call (none when not
    /// tracked): what the switch holds for each now is what Redis must.
    pub fn take_changes(&mut self) -> Changed {
        match &mut self.changed {
            Some(c) => std::mem::take(c),
            None => Changed::default(),
        }
    }

    /// How many changed objects were noted and not yet taken.
    pub fn changes_pending(&self) -> usize {
        self.changed.as_ref().map_or(0, |c| c.len())
    }

    /// Notes that the object at `key` changed (`made`: by a create of an
    /// object that did not exist). Its first change since the changes were
    /// last taken is the one that counts.
    fn changed(&mut self, key: &str, made: bool) {
        if let Some(c) = &mut self.changed {
            c.note(key, made);
        }
    }

    /// A default object removed (orchagent removes VLAN 1's members and the
    /// 1Q bridge's ports): the lists that named it no longer do.
    fn forget(&mut self, key: &str) {
        let Some((_, id)) = key.split_once(':') else {
            return;
        };
        for attrs in self.vendor.values_mut() {
            for (_, v) in attrs.iter_mut() {
                // Lists are `N:id,id,...`; a single id naming it stays (a
                // dangling reference, as a real switch would answer it).
                let Some((n, items)) = v.split_once(':') else {
                    continue;
                };
                if n.parse::<usize>().is_err() || !items.split(',').any(|t| t == id) {
                    continue;
                }
                let kept: Vec<&str> = items.split(',').filter(|t| *t != id).collect();
                *v = if kept.is_empty() {
                    "0:null".to_owned()
                } else {
                    format!("{}:{}", kept.len(), kept.join(","))
                };
            }
        }
    }

    /// Every object and its attributes.
    pub fn objects(&self) -> &Store {
        &self.objects
    }

    /// How many objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }

    /// Applies one decoded request.
    pub fn apply(&mut self, req: &Request<'_>) -> Answer {
        match req.op {
            Op::Create => self.create(req.key, req.attrs.clone()),
            Op::Remove => self.remove(req.key),
            Op::Set => {
                let mut a = self.set(req.key, req.attrs.clone());
                if a.status == SUCCESS {
                    a.notifications = port_state_changes(req);
                }
                a
            }
            Op::Get => self.get(req.key, req.attrs.clone()),
            Op::BulkCreate | Op::BulkRemove | Op::BulkSet | Op::BulkGet => {
                let ty = req.key;
                let mut statuses = Vec::with_capacity(req.objects.len());
                for (id, attrs) in req.objects.clone() {
                    let key = format!("{ty}:{id}");
                    let o = match req.op {
                        Op::BulkCreate => self.create(&key, attrs),
                        Op::BulkRemove => self.remove(&key),
                        Op::BulkSet => self.set(&key, attrs),
                        _ => self.get(&key, attrs),
                    };
                    statuses.push(o.status);
                }
                let all_ok = statuses.iter().all(|s| *s == SUCCESS);
                Answer {
                    status: if all_ok { SUCCESS } else { FAILURE },
                    attrs: Vec::new(),
                    statuses,
                    notifications: Vec::new(),
                }
            }
            Op::Notify | Op::Flush => Answer::status(SUCCESS),
            Op::Notification => Answer::status(INVALID_PARAMETER),
        }
    }

    /// SAI create.
    pub fn create<'a>(
        &mut self,
        key: &str,
        attrs: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Answer {
        let Some((ty, _)) = parse_key(key) else {
            return Answer::status(INVALID_PARAMETER);
        };
        if ty == "SWITCH" && self.objects.contains(key) {
            // Created again: re-attached, its attributes merged.
            self.objects.set(key, attrs, false);
            self.changed(key, false);
            return Answer::status(SUCCESS);
        }
        if !self.objects.create(key, attrs) {
            return Answer::status(ALREADY_EXISTS);
        }
        self.changed(key, true);
        if ty == "SWITCH" {
            self.discover(key);
        }
        Answer::status(SUCCESS)
    }

    /// SAI remove.
    pub fn remove(&mut self, key: &str) -> Answer {
        let Some((_, kind)) = parse_key(key) else {
            return Answer::status(INVALID_PARAMETER);
        };
        // Default objects have OIDs: an entry (a route, ...) never is one.
        if kind == IdKind::Oid && self.vendor.remove(key).is_some() {
            self.forget(key);
        }
        if self.objects.remove(key) {
            self.changed(key, false);
            return Answer::status(SUCCESS);
        }
        match kind {
            IdKind::Oid => Answer::status(SUCCESS), // a switch-owned default object
            IdKind::Entry => Answer::status(NOT_FOUND),
        }
    }

    /// SAI set (of one or more attributes, applied together).
    pub fn set<'a>(
        &mut self,
        key: &str,
        attrs: impl Iterator<Item = (&'a str, &'a str)>,
    ) -> Answer {
        let Some((_, kind)) = parse_key(key) else {
            return Answer::status(INVALID_PARAMETER);
        };
        let mut attrs = attrs.peekable();
        if attrs.peek().is_none() {
            return Answer::status(INVALID_PARAMETER);
        }
        // An OID object never created is a default object: set makes it.
        // (One made here is noted as changed, not made: the hash is cleared
        // first, as for any change but a create.)
        if !self.objects.set(key, attrs, kind == IdKind::Oid) {
            return Answer::status(NOT_FOUND);
        }
        self.changed(key, false);
        Answer::status(SUCCESS)
    }

    /// SAI get: the value set on the object, else the one the switch holds
    /// for a default object (a port's queue list, ...); an attribute it does
    /// not hold at all is answered with the value the caller sent (its
    /// default).
    pub fn get<'a>(&self, key: &str, attrs: impl Iterator<Item = (&'a str, &'a str)>) -> Answer {
        let Some((_, kind)) = parse_key(key) else {
            return Answer::status(INVALID_PARAMETER);
        };
        let obj = self.objects.get(key);
        if obj.is_none() && kind == IdKind::Entry {
            return Answer::status(NOT_FOUND);
        }
        let vendor = match kind {
            IdKind::Oid => self.vendor.get(key),
            IdKind::Entry => None,
        };
        let values = attrs
            .map(|(n, default)| {
                let v = match obj.and_then(|o: Object<'_>| o.attr(n)) {
                    Some(v) => v.to_string(),
                    None => find(vendor, n).unwrap_or(default).to_owned(),
                };
                (n.to_owned(), v)
            })
            .collect();
        Answer {
            status: SUCCESS,
            attrs: values,
            statuses: Vec::new(),
            notifications: Vec::new(),
        }
    }
}

/// The value of attribute `n` in `o`.
fn find<'o>(o: Option<&'o Attrs>, n: &str) -> Option<&'o str> {
    o.and_then(|o| o.iter().find(|(k, _)| k == n))
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORT: &str = "SAI_OBJECT_TYPE_PORT:oid:0x1000000000002";
    const ROUTE: &str = r#"SAI_OBJECT_TYPE_ROUTE_ENTRY:{"dest":"10.0.0.0/24","switch_id":"oid:0x21000000000000","vr":"oid:0x3000000000022"}"#;
    const SWITCH: &str = "SAI_OBJECT_TYPE_SWITCH:oid:0x21000000000000";

    fn a<'p>(
        pairs: &'p [(&'static str, &'static str)],
    ) -> impl Iterator<Item = (&'static str, &'static str)> + 'p {
        pairs.iter().copied()
    }

    /// A set of a port's admin state answers with its port_state_change; a
    /// set of anything else, or one that fails, with none.
    #[test]
    fn an_admin_state_set_on_a_port_notifies_its_state() {
        use sairing_transport::codec;
        let apply = |sw: &mut Switch, key: &str, n: &str, v: &str| {
            let attrs = [(n, v)];
            let body = codec::Body::Attrs(&attrs);
            let mut buf = vec![0; codec::request_len(key, &body)];
            codec::encode_request(&mut buf, Op::Set, 1, 1, key, &body).unwrap();
            let req = codec::decode_request(&buf, 1).unwrap();
            sw.apply(&req).notifications
        };
        let mut sw = Switch::new();
        assert_eq!(
            apply(&mut sw, PORT, "SAI_PORT_ATTR_ADMIN_STATE", "true"),
            [(
                "port_state_change".to_owned(),
                r#"[{"port_id":"oid:0x1000000000002","port_state":"SAI_PORT_OPER_STATUS_UP"}]"#
                    .to_owned()
            )]
        );
        let down = apply(&mut sw, PORT, "SAI_PORT_ATTR_ADMIN_STATE", "false");
        assert!(down[0].1.contains("SAI_PORT_OPER_STATUS_DOWN"), "{down:?}");
        assert!(apply(&mut sw, PORT, "SAI_PORT_ATTR_MTU", "9100").is_empty());
        assert!(apply(&mut sw, ROUTE, "SAI_PORT_ATTR_ADMIN_STATE", "true").is_empty());
        assert!(apply(
            &mut sw,
            "SAI_OBJECT_TYPE_PORT:bad",
            "SAI_PORT_ATTR_ADMIN_STATE",
            "true"
        )
        .is_empty());
    }

    #[test]
    fn create_get_set_remove() {
        let mut s = Switch::new();
        s.track_changes();
        let route = |made| Changed::from_iter([(ROUTE, made)]);
        assert_eq!(
            s.create(ROUTE, a(&[("SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID", "oid:0x1")]))
                .status,
            SUCCESS
        );
        assert_eq!(s.take_changes(), route(true));
        assert_eq!(s.create(ROUTE, a(&[])).status, ALREADY_EXISTS);
        let g = s.get(ROUTE, a(&[("SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID", "oid:0x0")]));
        assert_eq!(
            g.attrs,
            vec![("SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID".into(), "oid:0x1".into())]
        );
        assert_eq!(
            s.set(ROUTE, a(&[("SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID", "oid:0x2")]))
                .status,
            SUCCESS
        );
        assert_eq!(
            s.objects().get(ROUTE).unwrap().to_attrs(),
            vec![(
                "SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID".to_owned(),
                "oid:0x2".to_owned()
            )]
        );
        // The failed create and the get changed nothing.
        assert_eq!(s.take_changes(), route(false));
        assert_eq!(s.remove(ROUTE).status, SUCCESS);
        assert_eq!(s.take_changes(), route(false));
        // Made, set, removed and made again: made, as the first change says.
        s.create(ROUTE, a(&[]));
        s.set(ROUTE, a(&[("X", "1")]));
        s.remove(ROUTE);
        s.create(ROUTE, a(&[]));
        assert_eq!(s.take_changes(), route(true));
        // Removed and made again: the hash Redis holds must be cleared.
        s.remove(ROUTE);
        s.create(ROUTE, a(&[]));
        assert_eq!(s.take_changes(), route(false));
        s.remove(ROUTE);
        s.take_changes();
        assert_eq!(s.remove(ROUTE).status, NOT_FOUND);
        assert_eq!(s.set(ROUTE, a(&[("X", "1")])).status, NOT_FOUND);
        assert_eq!(s.get(ROUTE, a(&[("X", "1")])).status, NOT_FOUND);
        assert!(s.is_empty());
        assert!(s.take_changes().is_empty(), "the failures changed nothing");
        // A switch not tracking changes notes none.
        let mut quiet = Switch::new();
        quiet.create(ROUTE, a(&[]));
        assert!(quiet.take_changes().is_empty());
        quiet.track_changes();
        quiet.remove(ROUTE);
        assert_eq!(quiet.take_changes(), route(false));
    }

    #[test]
    fn invalid_keys_and_types() {
        let mut s = Switch::new();
        s.track_changes();
        for key in [
            "SAI_OBJECT_TYPE_FOO:oid:0x1",
            "PORT:oid:0x1",
            "SAI_OBJECT_TYPE_PORT",
            "SAI_OBJECT_TYPE_PORT:",
            "SAI_OBJECT_TYPE_PORT:oid:0xZZ",
            "SAI_OBJECT_TYPE_PORT:0x1",
            "SAI_OBJECT_TYPE_ROUTE_ENTRY:{}",
        ] {
            assert_eq!(s.create(key, a(&[])).status, INVALID_PARAMETER, "{key}");
            assert_eq!(s.remove(key).status, INVALID_PARAMETER, "{key}");
            assert_eq!(
                s.set(key, a(&[("A", "1")])).status,
                INVALID_PARAMETER,
                "{key}"
            );
            assert_eq!(s.get(key, a(&[])).status, INVALID_PARAMETER, "{key}");
        }
        assert!(s.take_changes().is_empty() && s.is_empty());
    }

    #[test]
    fn switch_owned_defaults_and_switch_reattach() {
        let mut s = Switch::new();
        // A port never created: set creates its state, get answers, remove succeeds.
        assert_eq!(
            s.set(PORT, a(&[("SAI_PORT_ATTR_ADMIN_STATE", "true")]))
                .status,
            SUCCESS
        );
        assert_eq!(s.objects().get(PORT).unwrap().attrs().count(), 1);
        assert_eq!(
            s.get(
                "SAI_OBJECT_TYPE_PORT:oid:0x1000000000003",
                a(&[("SAI_PORT_ATTR_MTU", "1514")])
            )
            .attrs[0]
                .1,
            "1514"
        );
        assert_eq!(
            s.remove("SAI_OBJECT_TYPE_PORT:oid:0x1000000000009").status,
            SUCCESS
        );
        // Creating the switch again re-attaches, merging attributes.
        assert_eq!(
            s.create(SWITCH, a(&[("SAI_SWITCH_ATTR_INIT_SWITCH", "true")]))
                .status,
            SUCCESS
        );
        assert_eq!(
            s.create(
                SWITCH,
                a(&[("SAI_SWITCH_ATTR_SRC_MAC_ADDRESS", "52:54:00:00:00:01")])
            )
            .status,
            SUCCESS
        );
        assert_eq!(s.objects().get(SWITCH).unwrap().attrs().count(), 2);
        // An attribute-less object is stored with no attributes (NULL/NULL in Redis).
        assert_eq!(
            s.create("SAI_OBJECT_TYPE_VLAN:oid:0x26000000000001", a(&[]))
                .status,
            SUCCESS
        );
        assert!(s
            .objects()
            .get("SAI_OBJECT_TYPE_VLAN:oid:0x26000000000001")
            .unwrap()
            .is_bare());
    }

    /// Creating the switch discovers its default objects: mirrored without
    /// attributes, answering gets with what the switch holds. A warm start
    /// from what Redis held answers the same, for the objects still there.
    #[test]
    fn the_switch_discovers_its_default_objects_and_a_warm_start_keeps_them() {
        let mut s = Switch::new();
        s.track_changes();
        let a: Attrs = vec![("SAI_SWITCH_ATTR_INIT_SWITCH".into(), "true".into())];
        let create = s.create(SWITCH, a.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        assert_eq!(create.status, SUCCESS);
        assert_eq!(s.len(), 1 + 1480, "the switch and its default objects");
        let changed = s.take_changes();
        assert_eq!(changed.len(), 1 + 1480, "each mirrored");
        assert!(changed
            .iter()
            .all(|(k, made)| made && s.objects().contains(k)));
        assert_eq!(
            s.objects().iter().filter(|o| o.is_bare()).count(),
            1480,
            "default objects without attributes"
        );
        let ask = |s: &Switch, key: &str, n: &str| {
            s.get(key, [(n, "oid:0x0")].into_iter()).attrs[0].1.clone()
        };
        assert_eq!(
            ask(&s, SWITCH, "SAI_SWITCH_ATTR_CPU_PORT"),
            "oid:0x1000000000001"
        );
        assert_eq!(ask(&s, PORT, "SAI_PORT_ATTR_HW_LANE_LIST"), "4:29,30,31,32");
        // A set shows in ASIC_STATE and wins over the switch's own value.
        let mtu = [("SAI_PORT_ATTR_MTU", "9100")];
        s.set(PORT, mtu.into_iter());
        assert_eq!(ask(&s, PORT, "SAI_PORT_ATTR_MTU"), "9100");
        // orchagent removes the default bridge ports.
        let bp = "SAI_OBJECT_TYPE_BRIDGE_PORT:oid:0x3a000000000049";
        assert_eq!(
            ask(&s, bp, "SAI_BRIDGE_PORT_ATTR_PORT_ID"),
            "oid:0x1000000000002"
        );
        assert_eq!(s.remove(bp).status, SUCCESS);
        let bridge = "SAI_OBJECT_TYPE_BRIDGE:oid:0x39000000000028";
        let ports = ask(&s, bridge, "SAI_BRIDGE_ATTR_PORT_LIST");
        assert!(
            ports.starts_with("31:") && !ports.contains("0x3a000000000049,"),
            "{ports}"
        );

        // A warm start from what the mirror holds.
        let w = Switch::from_objects_with(s.objects().clone(), Arc::default());
        assert!(w == s, "the warm switch differs");
        assert_eq!(
            ask(&w, bp, "SAI_BRIDGE_PORT_ATTR_PORT_ID"),
            "oid:0x0",
            "removed"
        );
        assert_eq!(ask(&w, PORT, "SAI_PORT_ATTR_QOS_NUMBER_OF_QUEUES"), "20");

        // The switch created again (after a remove) keeps what was set on its
        // default objects, and makes again those that were removed.
        assert_eq!(s.remove(SWITCH).status, SUCCESS);
        s.create(SWITCH, std::iter::empty());
        assert_eq!(ask(&s, PORT, "SAI_PORT_ATTR_MTU"), "9100");
        assert_eq!(s.len(), 1 + 1480);
    }
}
