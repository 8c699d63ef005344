//! The switch profile, and the default objects a switch discovers when it is
//! created, as SONiC's virtual switch (sonic-sairedis `vslib`) makes them and
//! its syncd writes them into ASIC_STATE (`docs/DESIGN.md`, "Default
//! objects").
//!
//! A profile is SONiC's `key=value` file (`syncd --profile FILE`):
//! `SAI_VS_SWITCH_TYPE` (`SAI_VS_SWITCH_TYPE_BCM56850`, the default, or
//! `SAI_VS_SWITCH_TYPE_MLNX2700`) and `SAI_VS_INTERFACE_LANE_MAP_FILE` (lines
//! `ethN:lane,lane,...`, or `0:ethN:...` for switch 0; relative to the
//! working directory as in SONiC, else to the profile's folder). Other keys are accepted and ignored; lines starting with
//! `#` or `;` are comments. Without a lane map, the 32 ports of vslib's
//! default map.
//!
//! Object ids the switch allocates follow SONiC's VID layout: the object
//! type in bits 55..48, an index counted from 1 in the low bits (switch index
//! and global context 0).

use std::path::Path;

use anyhow::{bail, Context};

use crate::vs::Attrs;

/// Which switch the profile describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SwitchType {
    /// Broadcom BCM56850: 20 queues (10 unicast, 10 multicast) and 13
    /// scheduler groups per port, 32 queues on the CPU port, a serdes per port.
    #[default]
    Bcm56850,
    /// Mellanox SN2700: 16 queues per port and on the CPU port, 16 scheduler
    /// groups per port, no serdes.
    Mlnx2700,
}

/// A switch profile: the switch type and its ports' lanes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The switch type.
    pub switch_type: SwitchType,
    /// Each front port's interface name and lanes, in port order.
    pub ports: Vec<(String, Vec<u32>)>,
}

impl Default for Profile {
    /// BCM56850 with vslib's default lane map (32 ports of 4 lanes).
    fn default() -> Profile {
        Profile {
            switch_type: SwitchType::Bcm56850,
            ports: default_lane_map(),
        }
    }
}

/// The first lane of each of vslib's 32 default ports (`eth0`..`eth31`, four
/// consecutive lanes each).
const DEFAULT_FIRST_LANES: [u32; 32] = [
    29, 25, 37, 33, 41, 45, 5, 1, 9, 13, 21, 17, 49, 53, 61, 57, 65, 69, 77, 73, 105, 109, 117,
    113, 121, 125, 85, 81, 89, 93, 97, 101,
];

fn default_lane_map() -> Vec<(String, Vec<u32>)> {
    DEFAULT_FIRST_LANES
        .iter()
        .enumerate()
        .map(|(i, &l)| (format!("eth{i}"), (l..l + 4).collect()))
        .collect()
}

impl Profile {
    /// Reads a profile file (and the lane map it names).
    pub fn load(path: &Path) -> anyhow::Result<Profile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the profile {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        Profile::parse(&text, base).with_context(|| format!("profile {}", path.display()))
    }

    /// Parses a profile's text; a lane map it names is read relative to `base`.
    pub fn parse(text: &str, base: &Path) -> anyhow::Result<Profile> {
        let mut p = Profile::default();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
                continue;
            }
            let Some((k, v)) = line.split_once('=') else {
                bail!("line {}: not KEY=VALUE: {line:?}", n + 1);
            };
            match (k.trim(), v.trim()) {
                ("SAI_VS_SWITCH_TYPE", "SAI_VS_SWITCH_TYPE_BCM56850") => {
                    p.switch_type = SwitchType::Bcm56850
                }
                ("SAI_VS_SWITCH_TYPE", "SAI_VS_SWITCH_TYPE_MLNX2700") => {
                    p.switch_type = SwitchType::Mlnx2700
                }
                ("SAI_VS_SWITCH_TYPE", other) => bail!(
                    "line {}: switch type {other:?} is not supported (SAI_VS_SWITCH_TYPE_BCM56850 or SAI_VS_SWITCH_TYPE_MLNX2700)",
                    n + 1
                ),
                ("SAI_VS_INTERFACE_LANE_MAP_FILE", file) => {
                    // Relative to the working directory, as vslib opens it
                    // (sonic-sairedis' tests/BCM56850/vsprofile.ini names
                    // BCM56850/lanemap.ini from tests/), else to the profile.
                    let path = if Path::new(file).exists() {
                        Path::new(file).to_path_buf()
                    } else {
                        base.join(file)
                    };
                    let map = std::fs::read_to_string(&path)
                        .with_context(|| format!("reading the lane map {}", path.display()))?;
                    p.ports = parse_lane_map(&map)
                        .with_context(|| format!("lane map {}", path.display()))?;
                }
                _ => {}
            }
        }
        Ok(p)
    }

    /// What identifies the switch this profile makes: its type and its
    /// ports' lanes (`Bcm56850 eth0:29,30,31,32 ...`).
    pub fn signature(&self) -> String {
        let mut s = format!("{:?}", self.switch_type);
        for (name, lanes) in &self.ports {
            let l: Vec<String> = lanes.iter().map(u32::to_string).collect();
            s.push_str(&format!(" {name}:{}", l.join(",")));
        }
        s
    }

    /// The objects a switch created with this profile discovers, with the
    /// attributes it holds for each (answered by gets), and the switch's own
    /// attributes that name them.
    pub fn defaults(&self) -> Defaults {
        Builder::new(self).build()
    }
}

/// Parses a lane map: `ifname:l1,l2,...` or `N:ifname:...` (only switch 0's
/// lines are taken). Interface names are letters and digits; 1, 2, 4 or 8
/// lanes; no lane or name twice.
pub fn parse_lane_map(text: &str) -> anyhow::Result<Vec<(String, Vec<u32>)>> {
    let mut ports: Vec<(String, Vec<u32>)> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        let parts: Vec<&str> = line.split(':').collect();
        let (name, lanes) = match parts.as_slice() {
            [name, lanes] => (*name, *lanes),
            [idx, name, lanes] => {
                if idx.trim() != "0" {
                    continue; // another switch's
                }
                (*name, *lanes)
            }
            _ => bail!("line {}: not IFNAME:LANES: {line:?}", n + 1),
        };
        let name = name.trim();
        if name.is_empty() || name.len() > 15 || !name.bytes().all(|b| b.is_ascii_alphanumeric()) {
            bail!("line {}: bad interface name {name:?}", n + 1);
        }
        let lanes: Vec<u32> = lanes
            .split(',')
            .map(|l| l.trim().parse::<u32>())
            .collect::<Result<_, _>>()
            .with_context(|| format!("line {}: bad lane list", n + 1))?;
        if ![1, 2, 4, 8].contains(&lanes.len()) {
            bail!("line {}: {} lanes (1, 2, 4 or 8)", n + 1, lanes.len());
        }
        if ports.iter().any(|(p, _)| p == name) {
            bail!("line {}: interface {name} twice", n + 1);
        }
        for &l in &lanes {
            if !seen.insert(l) {
                bail!("line {}: lane {l} twice", n + 1);
            }
        }
        ports.push((name.to_owned(), lanes));
    }
    if ports.is_empty() {
        bail!("no ports in it");
    }
    Ok(ports)
}

/// Objects per type that SONiC's own syncd over vslib (BCM56850, 32 ports)
/// showed in ASIC_STATE after replaying sonic-sairedis' `tests/BCM56850/full.rec`
/// (saiplayer over sairedis' Redis channel; measured, not derived from this
/// module), for the types the switch discovers and that recording neither
/// creates nor removes. The default profile must give the same.
pub const SONIC_BCM56850_COUNTS: &[(&str, usize)] = &[
    ("QUEUE", 672),
    ("SCHEDULER_GROUP", 416),
    ("INGRESS_PRIORITY_GROUP", 256),
    ("PORT", 33),
    ("PORT_SERDES", 32),
    ("HASH", 2),
    ("VIRTUAL_ROUTER", 1),
    ("STP", 1),
    ("VLAN", 1),
    ("BRIDGE", 1),
];

/// What a switch discovers at create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Defaults {
    /// Each default object (`SAI_OBJECT_TYPE_<T>:oid:0x...`) and the
    /// attributes the switch holds for it, in creation order.
    pub objects: Vec<(String, Attrs)>,
    /// The switch's own attributes: CPU_PORT, PORT_LIST, DEFAULT_*_ID, ...
    pub switch: Attrs,
}

/// SAI object type numbers (`sai_object_type_t`) of the default objects.
mod ty {
    pub const PORT: u64 = 1;
    pub const VIRTUAL_ROUTER: u64 = 3;
    pub const STP: u64 = 0x10;
    pub const HOSTIF_TRAP_GROUP: u64 = 0x11;
    pub const QUEUE: u64 = 0x15;
    pub const SCHEDULER_GROUP: u64 = 0x17;
    pub const INGRESS_PRIORITY_GROUP: u64 = 0x1a;
    pub const HASH: u64 = 0x1c;
    pub const VLAN: u64 = 0x26;
    pub const VLAN_MEMBER: u64 = 0x27;
    pub const BRIDGE: u64 = 0x39;
    pub const BRIDGE_PORT: u64 = 0x3a;
    pub const PORT_SERDES: u64 = 0x57;
}

/// `oid:0x...`
fn oid(v: u64) -> String {
    format!("oid:0x{v:x}")
}

/// A SAI list as sairedis serializes it: `N:a,b,...` (`0:null` when empty).
fn list(items: &[String]) -> String {
    if items.is_empty() {
        return "0:null".into();
    }
    format!("{}:{}", items.len(), items.join(","))
}

fn a(n: &str, v: impl Into<String>) -> (String, String) {
    (n.to_owned(), v.into())
}

struct Builder<'p> {
    profile: &'p Profile,
    next: u64,
    objects: Vec<(String, Attrs)>,
    /// Where each id's object is in `objects`.
    at: std::collections::HashMap<String, usize>,
}

impl<'p> Builder<'p> {
    fn new(profile: &'p Profile) -> Builder<'p> {
        Builder {
            profile,
            next: 1,
            objects: Vec::new(),
            at: std::collections::HashMap::new(),
        }
    }

    /// A new object of type `t` (its name in `name`): its VID.
    fn make(&mut self, t: u64, name: &str) -> String {
        let id = oid(t << 48 | self.next);
        self.next += 1;
        self.at.insert(id.clone(), self.objects.len());
        self.objects
            .push((format!("SAI_OBJECT_TYPE_{name}:{id}"), Attrs::new()));
        id
    }

    /// Adds `attrs` to the object `id` (made already).
    fn set(&mut self, id: &str, attrs: Attrs) {
        let i = self.at[id];
        self.objects[i].1.extend(attrs);
    }

    fn build(mut self) -> Defaults {
        let bcm = self.profile.switch_type == SwitchType::Bcm56850;
        let cpu = self.make(ty::PORT, "PORT");
        let ports: Vec<String> = (0..self.profile.ports.len())
            .map(|_| self.make(ty::PORT, "PORT"))
            .collect();
        let vr = self.make(ty::VIRTUAL_ROUTER, "VIRTUAL_ROUTER");
        let trap_group = self.make(ty::HOSTIF_TRAP_GROUP, "HOSTIF_TRAP_GROUP");
        let stp = self.make(ty::STP, "STP");
        let hash_fields = list(&[
            "SAI_NATIVE_HASH_FIELD_DST_MAC".into(),
            "SAI_NATIVE_HASH_FIELD_SRC_MAC".into(),
            "SAI_NATIVE_HASH_FIELD_ETHERTYPE".into(),
            "SAI_NATIVE_HASH_FIELD_IN_PORT".into(),
        ]);
        let ecmp_hash = self.make(ty::HASH, "HASH");
        let lag_hash = self.make(ty::HASH, "HASH");
        for h in [&ecmp_hash, &lag_hash] {
            self.set(
                h,
                vec![a("SAI_HASH_ATTR_NATIVE_HASH_FIELD_LIST", &hash_fields)],
            );
        }
        let vlan = self.make(ty::VLAN, "VLAN");
        let bridge = self.make(ty::BRIDGE, "BRIDGE");
        self.set(&cpu, vec![a("SAI_PORT_ATTR_TYPE", "SAI_PORT_TYPE_CPU")]);
        let lanes = self.profile.ports.clone();
        for (p, (_, l)) in ports.iter().zip(&lanes) {
            let lane_list = list(&l.iter().map(u32::to_string).collect::<Vec<_>>());
            self.set(
                p,
                vec![
                    a("SAI_PORT_ATTR_ADMIN_STATE", "false"),
                    a("SAI_PORT_ATTR_MTU", "1514"),
                    a("SAI_PORT_ATTR_SPEED", "40000"),
                    a("SAI_PORT_ATTR_HW_LANE_LIST", lane_list),
                    a("SAI_PORT_ATTR_TYPE", "SAI_PORT_TYPE_LOGICAL"),
                    a("SAI_PORT_ATTR_OPER_STATUS", "SAI_PORT_OPER_STATUS_DOWN"),
                    a("SAI_PORT_ATTR_PORT_VLAN_ID", "1"),
                    a(
                        "SAI_PORT_ATTR_HOST_TX_READY_STATUS",
                        "SAI_PORT_HOST_TX_READY_STATUS_READY",
                    ),
                    a("SAI_PORT_ATTR_SUPPORTED_AUTO_NEG_MODE", "true"),
                ],
            );
        }
        if bcm {
            for p in &ports {
                let serdes = self.make(ty::PORT_SERDES, "PORT_SERDES");
                self.set(&serdes, vec![a("SAI_PORT_SERDES_ATTR_PORT_ID", p)]);
                self.set(p, vec![a("SAI_PORT_ATTR_PORT_SERDES_ID", &serdes)]);
            }
        }
        // The 1Q bridge's ports and VLAN 1's members, one per port.
        let mut bridge_ports = Vec::new();
        for p in &ports {
            let bp = self.make(ty::BRIDGE_PORT, "BRIDGE_PORT");
            self.set(
                &bp,
                vec![
                    a("SAI_BRIDGE_PORT_ATTR_BRIDGE_ID", &bridge),
                    a(
                        "SAI_BRIDGE_PORT_ATTR_FDB_LEARNING_MODE",
                        "SAI_BRIDGE_PORT_FDB_LEARNING_MODE_HW",
                    ),
                    a("SAI_BRIDGE_PORT_ATTR_PORT_ID", p),
                    a("SAI_BRIDGE_PORT_ATTR_TYPE", "SAI_BRIDGE_PORT_TYPE_PORT"),
                ],
            );
            bridge_ports.push(bp);
        }
        let mut members = Vec::new();
        for bp in &bridge_ports {
            let m = self.make(ty::VLAN_MEMBER, "VLAN_MEMBER");
            self.set(
                &m,
                vec![
                    a("SAI_VLAN_MEMBER_ATTR_BRIDGE_PORT_ID", bp),
                    a("SAI_VLAN_MEMBER_ATTR_VLAN_ID", &vlan),
                    a(
                        "SAI_VLAN_MEMBER_ATTR_VLAN_TAGGING_MODE",
                        "SAI_VLAN_TAGGING_MODE_UNTAGGED",
                    ),
                ],
            );
            members.push(m);
        }
        self.set(
            &vlan,
            vec![
                a("SAI_VLAN_ATTR_VLAN_ID", "1"),
                a("SAI_VLAN_ATTR_MEMBER_LIST", list(&members)),
            ],
        );
        self.set(
            &bridge,
            vec![
                a("SAI_BRIDGE_ATTR_TYPE", "SAI_BRIDGE_TYPE_1Q"),
                a("SAI_BRIDGE_ATTR_PORT_LIST", list(&bridge_ports)),
            ],
        );
        // Eight ingress priority groups per port.
        for p in &ports {
            let ipgs: Vec<String> = (0..8)
                .map(|i| {
                    let g = self.make(ty::INGRESS_PRIORITY_GROUP, "INGRESS_PRIORITY_GROUP");
                    self.set(
                        &g,
                        vec![
                            a("SAI_INGRESS_PRIORITY_GROUP_ATTR_BUFFER_PROFILE", "oid:0x0"),
                            a("SAI_INGRESS_PRIORITY_GROUP_ATTR_PORT", p),
                            a("SAI_INGRESS_PRIORITY_GROUP_ATTR_INDEX", i.to_string()),
                        ],
                    );
                    g
                })
                .collect();
            self.set(
                p,
                vec![
                    a("SAI_PORT_ATTR_NUMBER_OF_INGRESS_PRIORITY_GROUPS", "8"),
                    a("SAI_PORT_ATTR_INGRESS_PRIORITY_GROUP_LIST", list(&ipgs)),
                ],
            );
        }
        // Queues: BCM 10 unicast + 10 multicast per port and 32 multicast on the
        // CPU port; MLNX 16 per port, CPU port included, with no type.
        let (per_port, cpu_queues) = if bcm { (20, 32) } else { (16, 16) };
        let mut port_queues = Vec::new();
        for p in ports.iter().chain([&cpu]) {
            let n = if *p == cpu { cpu_queues } else { per_port };
            let qs: Vec<String> = (0..n)
                .map(|i| {
                    let q = self.make(ty::QUEUE, "QUEUE");
                    let mut attrs = Vec::new();
                    if bcm {
                        let t = if *p != cpu && i < 10 {
                            "SAI_QUEUE_TYPE_UNICAST"
                        } else {
                            "SAI_QUEUE_TYPE_MULTICAST"
                        };
                        attrs.push(a("SAI_QUEUE_ATTR_TYPE", t));
                    }
                    attrs.push(a("SAI_QUEUE_ATTR_INDEX", i.to_string()));
                    attrs.push(a("SAI_QUEUE_ATTR_PORT", p.as_str()));
                    self.set(&q, attrs);
                    q
                })
                .collect();
            self.set(
                p,
                vec![
                    a("SAI_PORT_ATTR_QOS_NUMBER_OF_QUEUES", n.to_string()),
                    a("SAI_PORT_ATTR_QOS_QUEUE_LIST", list(&qs)),
                ],
            );
            port_queues.push(qs);
        }
        // Scheduler groups, a tree per front port over its queues.
        let max_childs = if bcm { 16 } else { 8 };
        for (p, q) in ports.iter().zip(&port_queues) {
            let n = if bcm { 13 } else { 16 };
            let sg: Vec<String> = (0..n)
                .map(|_| self.make(ty::SCHEDULER_GROUP, "SCHEDULER_GROUP"))
                .collect();
            let children: Vec<Vec<String>> = if bcm {
                (0..13)
                    .map(|i| match i {
                        0 => vec![sg[1].clone(), sg[2].clone()],
                        1 => sg[3..11].to_vec(),
                        2 => vec![sg[11].clone(), sg[12].clone()],
                        3..=10 => vec![q[i - 3].clone(), q[i + 7].clone()],
                        11 => vec![q[8].clone(), q[18].clone()],
                        _ => vec![q[9].clone(), q[19].clone()],
                    })
                    .collect()
            } else {
                (0..16)
                    .map(|i| match i {
                        0 => sg[8..16].to_vec(),
                        1..=7 => Vec::new(),
                        _ => vec![q[i - 8].clone(), q[i].clone()],
                    })
                    .collect()
            };
            for (g, c) in sg.iter().zip(&children) {
                self.set(
                    g,
                    vec![
                        a("SAI_SCHEDULER_GROUP_ATTR_PORT_ID", p.as_str()),
                        a("SAI_SCHEDULER_GROUP_ATTR_CHILD_COUNT", c.len().to_string()),
                        a("SAI_SCHEDULER_GROUP_ATTR_CHILD_LIST", list(c)),
                    ],
                );
            }
            self.set(
                p,
                vec![
                    a(
                        "SAI_PORT_ATTR_QOS_NUMBER_OF_SCHEDULER_GROUPS",
                        n.to_string(),
                    ),
                    a("SAI_PORT_ATTR_QOS_SCHEDULER_GROUP_LIST", list(&sg)),
                ],
            );
        }
        let n_ports = ports.len().to_string();
        let switch = vec![
            a("SAI_SWITCH_ATTR_CPU_PORT", &cpu),
            a("SAI_SWITCH_ATTR_PORT_NUMBER", &n_ports),
            a("SAI_SWITCH_ATTR_NUMBER_OF_ACTIVE_PORTS", &n_ports),
            a("SAI_SWITCH_ATTR_PORT_LIST", list(&ports)),
            a("SAI_SWITCH_ATTR_DEFAULT_VIRTUAL_ROUTER_ID", &vr),
            a("SAI_SWITCH_ATTR_DEFAULT_TRAP_GROUP", &trap_group),
            a("SAI_SWITCH_ATTR_DEFAULT_STP_INST_ID", &stp),
            a("SAI_SWITCH_ATTR_ECMP_HASH", &ecmp_hash),
            a("SAI_SWITCH_ATTR_LAG_HASH", &lag_hash),
            a("SAI_SWITCH_ATTR_DEFAULT_VLAN_ID", &vlan),
            a("SAI_SWITCH_ATTR_DEFAULT_1Q_BRIDGE_ID", &bridge),
            a(
                "SAI_SWITCH_ATTR_QOS_MAX_NUMBER_OF_CHILDS_PER_SCHEDULER_GROUP",
                max_childs.to_string(),
            ),
            a("SAI_SWITCH_ATTR_NUMBER_OF_ECMP_GROUPS", "512"),
            a("SAI_SWITCH_ATTR_ACL_ENTRY_MINIMUM_PRIORITY", "1"),
            a("SAI_SWITCH_ATTR_ACL_ENTRY_MAXIMUM_PRIORITY", "16000"),
        ];
        Defaults {
            objects: self.objects,
            switch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn counts(d: &Defaults) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for (k, _) in &d.objects {
            let t = k["SAI_OBJECT_TYPE_".len()..].split(':').next().unwrap();
            *m.entry(t.to_owned()).or_default() += 1;
        }
        m
    }

    /// BCM56850 with 32 ports discovers what SONiC's syncd over vslib writes
    /// (the bridge ports and VLAN members are there too; orchagent removes
    /// them at start).
    #[test]
    fn bcm56850_with_32_ports_discovers_sonics_counts() {
        let d = Profile::default().defaults();
        let c = counts(&d);
        let want = [
            ("PORT", 33),
            ("PORT_SERDES", 32),
            ("QUEUE", 672),
            ("SCHEDULER_GROUP", 416),
            ("INGRESS_PRIORITY_GROUP", 256),
            ("HASH", 2),
            ("VIRTUAL_ROUTER", 1),
            ("STP", 1),
            ("VLAN", 1),
            ("BRIDGE", 1),
            ("HOSTIF_TRAP_GROUP", 1),
            ("BRIDGE_PORT", 32),
            ("VLAN_MEMBER", 32),
        ];
        assert_eq!(c, want.iter().map(|(t, n)| (t.to_string(), *n)).collect());
        // Ids: the CPU port first, then the ports, then the default router,
        // as SONiC's syncd numbered them (0x1000000000001.., 0x3000000000022).
        assert_eq!(d.objects[0].0, "SAI_OBJECT_TYPE_PORT:oid:0x1000000000001");
        assert_eq!(d.objects[32].0, "SAI_OBJECT_TYPE_PORT:oid:0x1000000000021");
        assert_eq!(
            d.objects[33].0,
            "SAI_OBJECT_TYPE_VIRTUAL_ROUTER:oid:0x3000000000022"
        );
        let keys: std::collections::HashSet<_> = d.objects.iter().map(|(k, _)| k).collect();
        assert_eq!(keys.len(), d.objects.len(), "every id once");
        let sw: BTreeMap<_, _> = d.switch.iter().cloned().collect();
        assert_eq!(sw["SAI_SWITCH_ATTR_CPU_PORT"], "oid:0x1000000000001");
        assert_eq!(
            sw["SAI_SWITCH_ATTR_DEFAULT_VIRTUAL_ROUTER_ID"],
            "oid:0x3000000000022"
        );
        assert!(sw["SAI_SWITCH_ATTR_PORT_LIST"].starts_with("32:oid:0x1000000000002,"));
        // The first port has vslib's first lanes, 20 queues, 13 groups.
        let port = &d.objects[1].1;
        let get = |n: &str| port.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        assert_eq!(get("SAI_PORT_ATTR_HW_LANE_LIST"), Some("4:29,30,31,32"));
        assert!(get("SAI_PORT_ATTR_QOS_QUEUE_LIST")
            .unwrap()
            .starts_with("20:"));
        assert_eq!(
            get("SAI_PORT_ATTR_QOS_NUMBER_OF_SCHEDULER_GROUPS"),
            Some("13")
        );
    }

    /// MLNX2700: 16 queues on every port and the CPU port, 16 groups per
    /// port, no serdes.
    #[test]
    fn mlnx2700_counts() {
        let p = Profile::parse(
            "SAI_VS_SWITCH_TYPE=SAI_VS_SWITCH_TYPE_MLNX2700\n",
            Path::new("."),
        )
        .unwrap();
        let c = counts(&p.defaults());
        assert_eq!(c["QUEUE"], 33 * 16);
        assert_eq!(c["SCHEDULER_GROUP"], 32 * 16);
        assert_eq!(c["INGRESS_PRIORITY_GROUP"], 256);
        assert!(!c.contains_key("PORT_SERDES"));
    }

    /// A profile names its lane map relative to itself; the map's ports
    /// become the switch's.
    #[test]
    fn a_profile_and_its_lane_map() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("BCM56850")).unwrap();
        std::fs::write(
            tmp.path().join("BCM56850/lanemap.ini"),
            "# two ports\neth0:1,2,3,4\n0:eth1:5,6\n1:eth9:7\n",
        )
        .unwrap();
        let profile = tmp.path().join("vsprofile.ini");
        std::fs::write(
            &profile,
            "SAI_WARM_BOOT_READ_FILE=./sai_warmboot.bin\nSAI_VS_SWITCH_TYPE=SAI_VS_SWITCH_TYPE_BCM56850\nSAI_VS_INTERFACE_LANE_MAP_FILE=BCM56850/lanemap.ini\n",
        )
        .unwrap();
        let p = Profile::load(&profile).unwrap();
        assert_eq!(
            p.ports,
            vec![
                ("eth0".to_owned(), vec![1, 2, 3, 4]),
                ("eth1".to_owned(), vec![5, 6])
            ]
        );
        assert_eq!(counts(&p.defaults())["QUEUE"], 2 * 20 + 32);
    }

    #[test]
    fn bad_profiles_and_lane_maps_are_refused() {
        let base = Path::new(".");
        assert!(Profile::parse("SAI_VS_SWITCH_TYPE=SAI_VS_SWITCH_TYPE_NONE", base).is_err());
        assert!(Profile::parse("garbage", base).is_err());
        assert!(Profile::parse("SAI_VS_INTERFACE_LANE_MAP_FILE=/nonexistent/map", base).is_err());
        for bad in [
            "eth0:1,2,3",
            "eth0:1\neth1:1",
            "eth0:1\neth0:2",
            "eth-0:1",
            "eth0:x",
            "# none",
        ] {
            assert!(parse_lane_map(bad).is_err(), "{bad:?}");
        }
    }
}
