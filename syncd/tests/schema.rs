//! The Redis mirror's schema, as an operator sees it with redis-cli, and the
//! virtual switch's statuses over a real channel to a real syncd process.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use redis::Commands;
use sairing_testkit::PrivateRedis;
use sairing_transport::{Client, ClientOptions, Outcome};

const SYNCD: &str = env!("CARGO_BIN_EXE_syncd");
const PORT: &str = "SAI_OBJECT_TYPE_PORT:oid:0x1000000000002";
const ROUTE: &str = r#"SAI_OBJECT_TYPE_ROUTE_ENTRY:{"dest":"10.0.0.0/24","switch_id":"oid:0x21000000000000","vr":"oid:0x3000000000022"}"#;
const VLAN: &str = "SAI_OBJECT_TYPE_VLAN:oid:0x26000000000001";

fn status(o: Outcome) -> String {
    match o {
        Outcome::Done(r) => r.status,
        Outcome::Sent(s) => panic!("sync mode returned Sent({s})"),
    }
}

#[test]
fn asic_db_schema_and_statuses() {
    let r = PrivateRedis::start()
        .unwrap_or_else(|e| panic!("this test needs its own redis-server: {e}"));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("asic");
    let mut sd = Command::new(SYNCD)
        .arg("--channel")
        .arg(&dir)
        .args(["--create", "--capacity", "1048576", "--redis", &r.url(1)])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(sd.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert!(line.starts_with("syncd: ready"), "{line}");

    let mut c = Client::open(&dir, &ClientOptions::default()).unwrap();
    let ok = "SAI_STATUS_SUCCESS";
    assert_eq!(
        status(
            c.create(
                PORT,
                &[
                    ("SAI_PORT_ATTR_SPEED", "100000"),
                    ("SAI_PORT_ATTR_MTU", "9100")
                ]
            )
            .unwrap()
        ),
        ok
    );
    assert_eq!(
        status(c.set(PORT, "SAI_PORT_ATTR_ADMIN_STATE", "true").unwrap()),
        ok
    );
    assert_eq!(
        status(
            c.create(
                ROUTE,
                &[(
                    "SAI_ROUTE_ENTRY_ATTR_PACKET_ACTION",
                    "SAI_PACKET_ACTION_FORWARD"
                )]
            )
            .unwrap()
        ),
        ok
    );
    assert_eq!(status(c.create::<&str>(VLAN, &[]).unwrap()), ok);
    // Each status of the virtual switch, through the channel.
    assert_eq!(
        status(c.create::<&str>(VLAN, &[]).unwrap()),
        "SAI_STATUS_ITEM_ALREADY_EXISTS"
    );
    let gone = r#"SAI_OBJECT_TYPE_ROUTE_ENTRY:{"dest":"10.9.9.0/24","switch_id":"oid:0x21000000000000","vr":"oid:0x3000000000022"}"#;
    assert_eq!(status(c.remove(gone).unwrap()), "SAI_STATUS_ITEM_NOT_FOUND");
    assert_eq!(
        status(c.set(gone, "A", "1").unwrap()),
        "SAI_STATUS_ITEM_NOT_FOUND"
    );
    assert_eq!(
        status(
            c.create::<&str>("SAI_OBJECT_TYPE_NOPE:oid:0x1", &[])
                .unwrap()
        ),
        "SAI_STATUS_INVALID_PARAMETER"
    );
    assert_eq!(
        status(
            c.create::<&str>("SAI_OBJECT_TYPE_PORT:garbage", &[])
                .unwrap()
        ),
        "SAI_STATUS_INVALID_PARAMETER"
    );
    let g = c.get(PORT, &[("SAI_PORT_ATTR_MTU", "0")]).unwrap();
    assert_eq!(
        g.attrs,
        vec![("SAI_PORT_ATTR_MTU".to_owned(), "9100".to_owned())]
    );
    // The admin-state change came back as a notification.
    let n = c
        .next_notification(Duration::from_secs(10))
        .unwrap()
        .expect("port_state_change");
    assert_eq!(n.name, "port_state_change");
    assert!(
        n.payload.contains("oid:0x1000000000002") && n.payload.contains("SAI_PORT_OPER_STATUS_UP"),
        "{}",
        n.payload
    );

    // What redis-cli shows, once the mirror has caught up.
    let mut con = redis::Client::open(r.url(1))
        .unwrap()
        .get_connection()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let (sent, _) = c.counts();
    loop {
        let seq: Option<u64> = con.hget("SAIRING_PROGRESS", "seq").unwrap();
        if seq >= Some(sent) {
            break;
        }
        assert!(Instant::now() < deadline, "the mirror did not catch up");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut h =
        |k: &str| -> BTreeMap<String, String> { con.hgetall(format!("ASIC_STATE:{k}")).unwrap() };
    let m = |v: &[(&str, &str)]| {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect::<BTreeMap<_, _>>()
    };
    assert_eq!(
        h(PORT),
        m(&[
            ("SAI_PORT_ATTR_SPEED", "100000"),
            ("SAI_PORT_ATTR_MTU", "9100"),
            ("SAI_PORT_ATTR_ADMIN_STATE", "true")
        ])
    );
    assert_eq!(
        h(ROUTE),
        m(&[(
            "SAI_ROUTE_ENTRY_ATTR_PACKET_ACTION",
            "SAI_PACKET_ACTION_FORWARD"
        )])
    );
    assert_eq!(h(VLAN), m(&[("NULL", "NULL")]));
    let keys: Vec<String> = con.keys("ASIC_STATE:*").unwrap();
    assert_eq!(keys.len(), 3, "{keys:?}");
    let ring: String = con.hget("SAIRING_PROGRESS", "ring_id").unwrap();
    assert_eq!(ring.len(), 32);
    // Database 1 is the one written; database 0 is untouched.
    let mut con0 = redis::Client::open(r.url(0))
        .unwrap()
        .get_connection()
        .unwrap();
    assert_eq!(redis::cmd("DBSIZE").query::<u64>(&mut con0).unwrap(), 0);

    // Remove is a DEL.
    assert_eq!(status(c.remove(ROUTE).unwrap()), ok);
    // SAFETY: kill(2) on our own child.
    unsafe { libc::kill(sd.id() as i32, libc::SIGTERM) };
    assert!(sd.wait().unwrap().success());
    assert!(!con
        .exists::<_, bool>(format!("ASIC_STATE:{ROUTE}"))
        .unwrap());
}

#[test]
fn missing_redis_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("asic");
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = Command::new(SYNCD)
        .arg("--channel")
        .arg(&dir)
        .args([
            "--create",
            "--capacity",
            "65536",
            "--redis",
            &format!("redis://127.0.0.1:{port}/1"),
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("127.0.0.1:{port}")) && err.contains("--no-mirror"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}
