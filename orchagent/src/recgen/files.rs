//! What each recording holds: one function per file, writing its body through
//! [`Rec`](super::Rec).

use super::*;

fn route_attrs(nh: &str) -> Vec<(&'static str, String)> {
    vec![
        (
            "SAI_ROUTE_ENTRY_ATTR_PACKET_ACTION",
            "SAI_PACKET_ACTION_FORWARD".into(),
        ),
        ("SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID", nh.into()),
    ]
}

fn prefix(i: u64) -> String {
    format!("192.{}.{}.{}/32", 168 + (i >> 16), i >> 8 & 0xff, i & 0xff)
}

fn routes(first: u64, n: u64, nhs: &[String]) -> Vec<(String, Vec<(&'static str, String)>)> {
    (first..first + n)
        .map(|i| {
            (
                route_key(&prefix(i)),
                route_attrs(&nhs[i as usize % nhs.len()]),
            )
        })
        .collect()
}

pub(super) fn create(r: &mut Rec) {
    for n in 1..=4 {
        r.vlan(n);
    }
    r.l3(4);
    r.create(&format!("SAI_OBJECT_TYPE_STP:{}", oid(0x10, 1)), &[]);
    r.create(
        &format!("SAI_OBJECT_TYPE_HOSTIF:{}", oid(0xd, 1)),
        &[
            ("SAI_HOSTIF_ATTR_TYPE", "SAI_HOSTIF_TYPE_NETDEV".into()),
            ("SAI_HOSTIF_ATTR_OBJ_ID", port(0)),
            ("SAI_HOSTIF_ATTR_NAME", "Ethernet0".into()),
        ],
    );
}

pub(super) fn set(r: &mut Rec) {
    for i in 0..8 {
        let p = format!("SAI_OBJECT_TYPE_PORT:{}", port(i));
        r.set(&p, "SAI_PORT_ATTR_ADMIN_STATE", "true");
        r.set(&p, "SAI_PORT_ATTR_MTU", "9122");
        r.set(
            &p,
            "SAI_PORT_ATTR_SPEED",
            if i % 2 == 0 { "100000" } else { "40000" },
        );
    }
    let v = r.vlan(1);
    r.set(&v, "SAI_VLAN_ATTR_MAX_LEARNED_ADDRESSES", "512");
    r.set(&v, "SAI_VLAN_ATTR_MAX_LEARNED_ADDRESSES", "1024");
}

pub(super) fn remove(r: &mut Rec) {
    let vlans: Vec<String> = (1..=6).map(|n| r.vlan(n)).collect();
    let nhs = r.l3(3);
    for v in vlans.iter().step_by(2) {
        r.remove(v);
    }
    r.remove(&format!("SAI_OBJECT_TYPE_NEXT_HOP:{}", nhs[1]));
}

pub(super) fn get(r: &mut Rec) {
    let sw = format!("SAI_OBJECT_TYPE_SWITCH:{SWITCH}");
    r.get(
        &sw,
        &[("SAI_SWITCH_ATTR_PORT_NUMBER", "0".into())],
        &[("SAI_SWITCH_ATTR_PORT_NUMBER", "32".into())],
    );
    r.get(
        &sw,
        &[("SAI_SWITCH_ATTR_CPU_PORT", "oid:0x0".into())],
        &[("SAI_SWITCH_ATTR_CPU_PORT", oid(0x1, 1))],
    );
    for i in 0..4 {
        let p = format!("SAI_OBJECT_TYPE_PORT:{}", port(i));
        r.set(&p, "SAI_PORT_ATTR_MTU", "9100");
        r.get(
            &p,
            &[("SAI_PORT_ATTR_MTU", "0".into())],
            &[("SAI_PORT_ATTR_MTU", "9100".into())],
        );
    }
    // The recorded ASIC did not support this one; a replay does not check a
    // get's answer against the recording (the switch answers from what it holds).
    r.line(&format!(
        "g|SAI_OBJECT_TYPE_SWITCH:{SWITCH}|SAI_SWITCH_ATTR_AVAILABLE_IPV4_ROUTE_ENTRY=0"
    ));
    r.line("G|SAI_STATUS_ATTR_NOT_SUPPORTED_0");
}

pub(super) fn bulk_create(r: &mut Rec) {
    let nhs = r.l3(4);
    r.bulk('C', "ROUTE_ENTRY", &routes(0, 40, &nhs));
    let group = oid(0x5, 1);
    r.create(
        &format!("SAI_OBJECT_TYPE_NEXT_HOP_GROUP:{group}"),
        &[(
            "SAI_NEXT_HOP_GROUP_ATTR_TYPE",
            "SAI_NEXT_HOP_GROUP_TYPE_ECMP".into(),
        )],
    );
    let members: Vec<_> = nhs
        .iter()
        .enumerate()
        .map(|(i, nh)| {
            (
                oid(0x2d, 1 + i as u64),
                vec![
                    (
                        "SAI_NEXT_HOP_GROUP_MEMBER_ATTR_NEXT_HOP_GROUP_ID",
                        group.clone(),
                    ),
                    ("SAI_NEXT_HOP_GROUP_MEMBER_ATTR_NEXT_HOP_ID", nh.clone()),
                ],
            )
        })
        .collect();
    r.bulk('C', "NEXT_HOP_GROUP_MEMBER", &members);
}

pub(super) fn bulk_set(r: &mut Rec) {
    let nhs = r.l3(4);
    r.bulk('C', "ROUTE_ENTRY", &routes(0, 30, &nhs));
    let moved: Vec<_> = (0..30)
        .step_by(3)
        .map(|i| {
            (
                route_key(&prefix(i)),
                vec![(
                    "SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID",
                    nhs[(i as usize + 1) % 4].clone(),
                )],
            )
        })
        .collect();
    r.bulk('S', "ROUTE_ENTRY", &moved);
}

pub(super) fn bulk_remove(r: &mut Rec) {
    let nhs = r.l3(2);
    r.bulk('C', "ROUTE_ENTRY", &routes(0, 30, &nhs));
    let gone: Vec<_> = (0..30)
        .filter(|i| i % 4 == 1)
        .map(|i| (route_key(&prefix(i)), Vec::new()))
        .collect();
    r.bulk('R', "ROUTE_ENTRY", &gone);
}

pub(super) fn bulk_get(r: &mut Rec) {
    let nhs = r.l3(2);
    r.bulk('C', "ROUTE_ENTRY", &routes(0, 6, &nhs));
    let asked: Vec<_> = (0..6)
        .map(|i| {
            (
                route_key(&prefix(i)),
                vec![("SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID", "oid:0x0".to_owned())],
            )
        })
        .collect();
    r.bulk('B', "ROUTE_ENTRY", &asked);
    let mut answer = format!("G|{OK}");
    for i in 0..6usize {
        answer.push_str(&format!(
            "||{OK}|SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID={}",
            nhs[i % nhs.len()]
        ));
    }
    r.line(&answer);
}

pub(super) fn notify(r: &mut Rec) {
    r.l3(2);
    // A second view cycle, as a warm restart of orchagent records it.
    r.notify("INIT_VIEW");
    r.l3_on(2..3);
}

pub(super) fn flush(r: &mut Rec) {
    let vlan = r.vlan(1);
    let bvid = vlan.rsplit_once(':').map_or("", |x| x.1).to_owned();
    let bridge_port = oid(0x3a, 1);
    r.create(
        &format!("SAI_OBJECT_TYPE_BRIDGE_PORT:{bridge_port}"),
        &[
            (
                "SAI_BRIDGE_PORT_ATTR_TYPE",
                "SAI_BRIDGE_PORT_TYPE_PORT".into(),
            ),
            ("SAI_BRIDGE_PORT_ATTR_PORT_ID", port(0)),
            ("SAI_BRIDGE_PORT_ATTR_ADMIN_STATE", "true".into()),
        ],
    );
    for i in 0..4 {
        r.create(
            &format!(
                "SAI_OBJECT_TYPE_FDB_ENTRY:{}",
                fdb_key(&mac(0x600 + i), &bvid)
            ),
            &[
                (
                    "SAI_FDB_ENTRY_ATTR_TYPE",
                    "SAI_FDB_ENTRY_TYPE_STATIC".into(),
                ),
                ("SAI_FDB_ENTRY_ATTR_BRIDGE_PORT_ID", bridge_port.clone()),
            ],
        );
    }
    r.line(&format!(
        "f|SAI_OBJECT_TYPE_FDB_FLUSH:{SWITCH}|SAI_FDB_FLUSH_ATTR_BRIDGE_PORT_ID={bridge_port}|SAI_FDB_FLUSH_ATTR_ENTRY_TYPE=SAI_FDB_FLUSH_ENTRY_TYPE_DYNAMIC"
    ));
    r.line(&format!("F|{OK}"));
    r.line(&format!("f|SAI_OBJECT_TYPE_FDB_FLUSH:{SWITCH}|"));
    r.line(&format!("F|{OK}"));
}

pub(super) fn notification(r: &mut Rec) {
    for i in 0..4 {
        r.set(
            &format!("SAI_OBJECT_TYPE_PORT:{}", port(i)),
            "SAI_PORT_ATTR_ADMIN_STATE",
            "true",
        );
        r.port_state(i, true);
    }
    // A notification between a get and its answer, as saiplayer expects.
    r.line(&format!(
        "g|SAI_OBJECT_TYPE_PORT:{}|SAI_PORT_ATTR_OPER_STATUS=SAI_PORT_OPER_STATUS_UNKNOWN",
        port(0)
    ));
    r.port_state(1, false);
    r.line(&format!(
        "G|{OK}|SAI_PORT_ATTR_OPER_STATUS=SAI_PORT_OPER_STATUS_UP"
    ));
    r.line(&format!(
        r#"n|fdb_event|[{{"fdb_entry":"{}","fdb_event":"SAI_FDB_EVENT_LEARNED","list":[{{"id":"SAI_FDB_ENTRY_ATTR_BRIDGE_PORT_ID","value":"{}"}}]}}]|"#,
        fdb_key(&mac(0x777), &oid(0x26, 1)).replace('"', "\\\""),
        oid(0x3a, 1)
    ));
    r.line(&format!(
        r#"n|switch_shutdown_request|{{"switch_id":"{SWITCH}"}}|"#
    ));
}

pub(super) fn failure(r: &mut Rec) {
    let nhs = r.l3(2);
    let v = r.vlan(1);
    r.line(&format!("c|{v}|SAI_VLAN_ATTR_VLAN_ID=101"));
    r.line("E|SAI_STATUS_ITEM_ALREADY_EXISTS");
    let missing = format!(
        "SAI_OBJECT_TYPE_ROUTE_ENTRY:{}",
        route_key("198.51.100.0/24")
    );
    r.remove(&missing);
    r.line("E|SAI_STATUS_ITEM_NOT_FOUND");
    r.set(
        &missing,
        "SAI_ROUTE_ENTRY_ATTR_PACKET_ACTION",
        "SAI_PACKET_ACTION_DROP",
    );
    r.line("E|SAI_STATUS_ITEM_NOT_FOUND");
    r.line(&format!(
        "c|SAI_OBJECT_TYPE_NOT_A_TYPE:{}|SAI_NOT_A_TYPE_ATTR_X=1",
        oid(0x7f, 1)
    ));
    r.line("E|SAI_STATUS_INVALID_PARAMETER");
    // A bulk create in which one object exists already: the others are made.
    r.bulk('C', "ROUTE_ENTRY", &routes(0, 2, &nhs));
    let mut again = routes(2, 1, &nhs);
    again.extend(routes(0, 1, &nhs));
    again.extend(routes(3, 1, &nhs));
    r.bulk('C', "ROUTE_ENTRY", &again);
    r.line(&format!(
        "E|SAI_STATUS_FAILURE||{OK}|SAI_STATUS_ITEM_ALREADY_EXISTS|{OK}"
    ));
    // A notification between a request and its failure answer.
    r.remove(&missing);
    r.port_state(0, true);
    r.line("E|SAI_STATUS_ITEM_NOT_FOUND");
}

pub(super) fn query(r: &mut Rec) {
    let sw = format!("SAI_OBJECT_TYPE_SWITCH:{SWITCH}");
    r.line(&format!(
        "q|attribute_capability|{sw}|OBJECT_TYPE=SAI_OBJECT_TYPE_PORT|ATTR_ID=SAI_PORT_ATTR_AUTO_NEG_MODE"
    ));
    r.line(&format!(
        "Q|attribute_capability|{OK}|OBJECT_TYPE=SAI_OBJECT_TYPE_PORT|ATTR_ID=SAI_PORT_ATTR_AUTO_NEG_MODE|CREATE_IMP=true|SET_IMP=true|GET_IMP=true"
    ));
    r.line(&format!(
        "q|attribute_enum_values_capability|{sw}|SAI_PORT_ATTR_FEC_MODE=3:0,0,0"
    ));
    r.line(&format!(
        "Q|attribute_enum_values_capability|{OK}|SAI_PORT_ATTR_FEC_MODE=3:SAI_PORT_FEC_MODE_NONE,SAI_PORT_FEC_MODE_RS,SAI_PORT_FEC_MODE_FC"
    ));
    r.line(&format!(
        "q|object_type_get_availability|{sw}|SAI_ACL_TABLE_ATTR_ACL_STAGE=SAI_ACL_STAGE_INGRESS"
    ));
    r.line(&format!("Q|object_type_get_availability|{OK}|COUNT=7"));
    let p = format!("SAI_OBJECT_TYPE_PORT:{}", port(0));
    r.line(&format!(
        "q|get_stats|{p}|SAI_PORT_STAT_IF_IN_OCTETS=|SAI_PORT_STAT_IF_OUT_OCTETS="
    ));
    r.line(&format!("Q|get_stats|{OK}|123456|654321"));
    r.line(&format!("q|clear_stats|{p}|SAI_PORT_STAT_IF_IN_OCTETS="));
    r.line(&format!("Q|clear_stats|{OK}"));
    r.l3(1);
}

pub(super) fn counter_polling(r: &mut Rec) {
    r.l3(1);
    for i in 0..4 {
        r.line(&format!(
            "p|SAI_OBJECT_TYPE_PORT:{}|PORT_COUNTER_ID_LIST=SAI_PORT_STAT_IF_IN_OCTETS,SAI_PORT_STAT_IF_OUT_OCTETS|POLL_INTERVAL=1000|STATS_MODE=STATS_MODE_READ",
            port(i)
        ));
    }
    r.line(&format!(
        "p|SAI_OBJECT_TYPE_QUEUE:{}|QUEUE_COUNTER_ID_LIST=SAI_QUEUE_STAT_PACKETS",
        oid(0x15, 1)
    ));
}

pub(super) fn comment(r: &mut Rec) {
    r.l3(1);
    r.comment("logrotate on: ./sairedis.rec");
    r.comment("a comment | with the separator in it");
    r.l3_on(1..2);
}

pub(super) fn sleep(r: &mut Rec) {
    let nhs = r.l3(2);
    r.line("@|3");
    r.bulk('C', "ROUTE_ENTRY", &routes(0, 4, &nhs));
    r.line("@|0");
    r.line("@|5");
    r.set(
        &format!("SAI_OBJECT_TYPE_PORT:{}", port(0)),
        "SAI_PORT_ATTR_ADMIN_STATE",
        "true",
    );
}

pub(super) fn timeout(r: &mut Rec) {
    r.line("T|SYNC_OPERATION_RESPONSE_TIMEOUT=480000");
    r.l3(1);
    r.line("T|SYNC_OPERATION_RESPONSE_TIMEOUT=60000");
}

pub(super) fn entry_keys(r: &mut Rec) {
    let nhs = r.l3(2);
    for (i, p) in ["10.1.0.0/16", "10.2.0.0/24", "2001:db8::/64", "0.0.0.0/0"]
        .iter()
        .enumerate()
    {
        r.create(
            &format!("SAI_OBJECT_TYPE_ROUTE_ENTRY:{}", route_key(p)),
            &route_attrs(&nhs[i % 2]),
        );
    }
    let k = format!("SAI_OBJECT_TYPE_ROUTE_ENTRY:{}", route_key("10.2.0.0/24"));
    r.set(
        &k,
        "SAI_ROUTE_ENTRY_ATTR_PACKET_ACTION",
        "SAI_PACKET_ACTION_DROP",
    );
    r.remove(&format!(
        "SAI_OBJECT_TYPE_ROUTE_ENTRY:{}",
        route_key("10.1.0.0/16")
    ));
    let v = r.vlan(7);
    let bvid = v.rsplit_once(':').map_or("", |x| x.1).to_owned();
    let fdb = format!("SAI_OBJECT_TYPE_FDB_ENTRY:{}", fdb_key(&mac(0xabc), &bvid));
    r.create(
        &fdb,
        &[(
            "SAI_FDB_ENTRY_ATTR_TYPE",
            "SAI_FDB_ENTRY_TYPE_STATIC".into(),
        )],
    );
    r.set(
        &fdb,
        "SAI_FDB_ENTRY_ATTR_PACKET_ACTION",
        "SAI_PACKET_ACTION_FORWARD",
    );
    r.create(
        &format!("SAI_OBJECT_TYPE_INSEG_ENTRY:{{\"label\":\"1000\",\"switch_id\":\"{SWITCH}\"}}"),
        &[("SAI_INSEG_ENTRY_ATTR_NUM_OF_POP", "1".into())],
    );
    let rif = oid(0x6, 0x100);
    r.remove(&format!(
        "SAI_OBJECT_TYPE_NEIGHBOR_ENTRY:{}",
        neighbor_key("10.0.1.1", &oid(0x6, 0x101))
    ));
    r.create(
        &format!(
            "SAI_OBJECT_TYPE_NEIGHBOR_ENTRY:{}",
            neighbor_key("fe80::1", &rif)
        ),
        &[("SAI_NEIGHBOR_ENTRY_ATTR_DST_MAC_ADDRESS", mac(0x99))],
    );
}

/// A whole bring-up with every kind of line.
pub(super) fn bringup(r: &mut Rec) {
    r.line("T|SYNC_OPERATION_RESPONSE_TIMEOUT=60000");
    r.get(
        &format!("SAI_OBJECT_TYPE_SWITCH:{SWITCH}"),
        &[("SAI_SWITCH_ATTR_PORT_NUMBER", "0".into())],
        &[("SAI_SWITCH_ATTR_PORT_NUMBER", "32".into())],
    );
    r.line(&format!(
        "q|attribute_capability|SAI_OBJECT_TYPE_SWITCH:{SWITCH}|OBJECT_TYPE=SAI_OBJECT_TYPE_PORT|ATTR_ID=SAI_PORT_ATTR_FEC_MODE"
    ));
    r.line(&format!(
        "Q|attribute_capability|{OK}|OBJECT_TYPE=SAI_OBJECT_TYPE_PORT|ATTR_ID=SAI_PORT_ATTR_FEC_MODE|CREATE_IMP=true|SET_IMP=true|GET_IMP=true"
    ));
    for i in 0..32 {
        let p = format!("SAI_OBJECT_TYPE_PORT:{}", port(i));
        r.set(&p, "SAI_PORT_ATTR_MTU", "9122");
        r.set(&p, "SAI_PORT_ATTR_ADMIN_STATE", "true");
        r.create(
            &format!("SAI_OBJECT_TYPE_HOSTIF:{}", oid(0xd, 1 + i)),
            &[
                ("SAI_HOSTIF_ATTR_TYPE", "SAI_HOSTIF_TYPE_NETDEV".into()),
                ("SAI_HOSTIF_ATTR_OBJ_ID", port(i)),
                ("SAI_HOSTIF_ATTR_NAME", format!("Ethernet{}", 4 * i)),
            ],
        );
    }
    for i in 0..32 {
        r.port_state(i, true);
        r.line(&format!(
            "p|SAI_OBJECT_TYPE_PORT:{}|PORT_COUNTER_ID_LIST=SAI_PORT_STAT_IF_IN_OCTETS,SAI_PORT_STAT_IF_OUT_OCTETS",
            port(i)
        ));
    }
    r.line("@|2");
    let vlans: Vec<String> = (1..=4).map(|n| r.vlan(n)).collect();
    for (n, v) in vlans.iter().enumerate() {
        for i in 0..4u64 {
            r.create(
                &format!(
                    "SAI_OBJECT_TYPE_VLAN_MEMBER:{}",
                    oid(0x27, 1 + n as u64 * 4 + i)
                ),
                &[
                    (
                        "SAI_VLAN_MEMBER_ATTR_VLAN_ID",
                        v.rsplit_once(':').map_or("", |x| x.1).into(),
                    ),
                    ("SAI_VLAN_MEMBER_ATTR_BRIDGE_PORT_ID", oid(0x3a, 1 + i)),
                    (
                        "SAI_VLAN_MEMBER_ATTR_VLAN_TAGGING_MODE",
                        "SAI_VLAN_TAGGING_MODE_UNTAGGED".into(),
                    ),
                ],
            );
        }
    }
    let nhs = r.l3(16);
    let groups: Vec<String> = (0..4)
        .map(|g| {
            let group = oid(0x5, 1 + g);
            r.create(
                &format!("SAI_OBJECT_TYPE_NEXT_HOP_GROUP:{group}"),
                &[(
                    "SAI_NEXT_HOP_GROUP_ATTR_TYPE",
                    "SAI_NEXT_HOP_GROUP_TYPE_ECMP".into(),
                )],
            );
            let members: Vec<_> = (0..4u64)
                .map(|m| {
                    (
                        oid(0x2d, 1 + g * 4 + m),
                        vec![
                            (
                                "SAI_NEXT_HOP_GROUP_MEMBER_ATTR_NEXT_HOP_GROUP_ID",
                                group.clone(),
                            ),
                            (
                                "SAI_NEXT_HOP_GROUP_MEMBER_ATTR_NEXT_HOP_ID",
                                nhs[(g * 4 + m) as usize].clone(),
                            ),
                        ],
                    )
                })
                .collect();
            r.bulk('C', "NEXT_HOP_GROUP_MEMBER", &members);
            group
        })
        .collect();
    let mut targets = nhs.clone();
    targets.extend(groups);
    // 3,000 routes: the first 1,000 one by one, the rest in bulk calls of 250.
    for (k, attrs) in routes(0, 1000, &targets) {
        r.create(&format!("SAI_OBJECT_TYPE_ROUTE_ENTRY:{k}"), &attrs);
    }
    for b in 0..8 {
        r.bulk('C', "ROUTE_ENTRY", &routes(1000 + b * 250, 250, &targets));
    }
    r.comment("logrotate on: ./sairedis.rec");
    r.line("@|1");
    // Updates and withdrawals.
    let moved: Vec<_> = (0..3000)
        .filter(|i| i % 10 == 3)
        .map(|i| {
            (
                route_key(&prefix(i)),
                vec![(
                    "SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID",
                    targets[(i as usize + 5) % targets.len()].clone(),
                )],
            )
        })
        .collect();
    r.bulk('S', "ROUTE_ENTRY", &moved);
    let gone: Vec<_> = (0..3000)
        .filter(|i| i % 10 == 7)
        .map(|i| (route_key(&prefix(i)), Vec::new()))
        .collect();
    r.bulk('R', "ROUTE_ENTRY", &gone[..150]);
    for (k, _) in &gone[150..] {
        r.remove(&format!("SAI_OBJECT_TYPE_ROUTE_ENTRY:{k}"));
    }
    r.remove(&format!("SAI_OBJECT_TYPE_ROUTE_ENTRY:{}", gone[0].0));
    r.line("E|SAI_STATUS_ITEM_NOT_FOUND");
    let asked: Vec<_> = (0..3)
        .map(|i| {
            (
                route_key(&prefix(i)),
                vec![(
                    "SAI_ROUTE_ENTRY_ATTR_PACKET_ACTION",
                    "SAI_PACKET_ACTION_DROP".to_owned(),
                )],
            )
        })
        .collect();
    r.bulk('B', "ROUTE_ENTRY", &asked);
    r.line(&format!(
        "G|{OK}||{OK}|SAI_ROUTE_ENTRY_ATTR_PACKET_ACTION=SAI_PACKET_ACTION_FORWARD||{OK}|SAI_ROUTE_ENTRY_ATTR_PACKET_ACTION=SAI_PACKET_ACTION_FORWARD||{OK}|SAI_ROUTE_ENTRY_ATTR_PACKET_ACTION=SAI_PACKET_ACTION_FORWARD"
    ));
    r.line(&format!(
        "f|SAI_OBJECT_TYPE_FDB_FLUSH:{SWITCH}|SAI_FDB_FLUSH_ATTR_ENTRY_TYPE=SAI_FDB_FLUSH_ENTRY_TYPE_DYNAMIC"
    ));
    r.line(&format!("F|{OK}"));
    r.line(&format!(
        "q|get_stats|SAI_OBJECT_TYPE_PORT:{}|SAI_PORT_STAT_IF_IN_OCTETS=",
        port(0)
    ));
    r.line(&format!("Q|get_stats|{OK}|4096"));
}
