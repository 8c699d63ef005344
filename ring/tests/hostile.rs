//! Hostile files: every way a ring file can be wrong gives an error that names
//! the file and the problem, and nothing crashes the process.

use std::fs::OpenOptions as FsOpen;
use std::os::unix::fs::{FileExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sairing_ring::layout::{HEADER_LEN, MAGIC, RECORD_HEADER_LEN};
use sairing_ring::{
    create, Consumer, Corruption, CreateOptions, Error, OpenOptions, Producer, PushError,
};

const CAP: u64 = 4096;
const OFF_TAIL: u64 = 128;
const OFF_HEAD: u64 = 256;
const OFF_HEAD_SEQ: u64 = 264;

fn fresh(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    let p = dir.path().join(name);
    create(&p, &CreateOptions::with_capacity(CAP)).unwrap();
    p
}

fn fresh_with(dir: &tempfile::TempDir, name: &str, checksums: bool) -> PathBuf {
    let p = dir.path().join(name);
    create(
        &p,
        &CreateOptions {
            capacity: CAP,
            checksums,
            group: None,
        },
    )
    .unwrap();
    p
}

fn poke(path: &Path, off: u64, bytes: &[u8]) {
    FsOpen::new()
        .write(true)
        .open(path)
        .unwrap()
        .write_all_at(bytes, off)
        .unwrap();
}

fn peek(path: &Path, off: u64, len: usize) -> Vec<u8> {
    let mut b = vec![0; len];
    std::fs::File::open(path)
        .unwrap()
        .read_exact_at(&mut b, off)
        .unwrap();
    b
}

/// Rewrites the header's checksum after a field was changed on purpose, so the
/// test reaches the check it aims at.
fn fix_header_crc(path: &Path) {
    let b = peek(path, 0, 56);
    poke(path, 56, &crc32c::crc32c(&b).to_le_bytes());
}

fn open_c(path: &Path) -> Result<Consumer, Error> {
    Consumer::open(path, &OpenOptions::default())
}

fn open_p(path: &Path) -> Result<Producer, Error> {
    Producer::open(path, &OpenOptions::default())
}

#[track_caller]
/// Cuts the file to `len` bytes from another process (truncate(1)), as a
/// hostile peer would while this one has it mapped.
fn truncate_by_another_process(path: &Path, len: u64) {
    let status = std::process::Command::new("truncate")
        .args(["-s", &len.to_string()])
        .arg(path)
        .status()
        .expect("run truncate(1)");
    assert!(status.success());
}

fn expect_corrupt<T>(path: &Path, r: Result<T, Error>, check: impl FnOnce(&Corruption) -> bool) {
    match r {
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.starts_with(&path.display().to_string()),
                "error does not name the file: {msg}"
            );
            let c = e
                .corruption()
                .unwrap_or_else(|| panic!("not a corruption error: {msg}"));
            assert!(check(c), "unexpected problem: {msg}");
        }
        Ok(_) => panic!("{} opened/read although it is corrupt", path.display()),
    }
}

/// Writes `n` records through the real producer and returns their positions.
fn fill(path: &Path, sizes: &[usize]) -> Vec<u64> {
    let mut p = open_p(path).unwrap();
    let mut pos = Vec::new();
    let mut at = 0u64;
    for (i, &s) in sizes.iter().enumerate() {
        pos.push(at);
        p.push(1, &vec![i as u8; s]).unwrap();
        at += sairing_ring::layout::record_size(s, false) as u64;
    }
    pos
}

#[test]
fn wrong_magic() {
    let d = tempfile::tempdir().unwrap();
    let p = fresh(&d, "r");
    poke(&p, 0, b"REDIS001");
    expect_corrupt(
        &p,
        open_c(&p),
        |c| matches!(c, Corruption::BadMagic { found } if found == b"REDIS001"),
    );
    expect_corrupt(&p, open_p(&p), |c| matches!(c, Corruption::BadMagic { .. }));
}

#[test]
fn wrong_version() {
    let d = tempfile::tempdir().unwrap();
    let p = fresh(&d, "r");
    poke(&p, 8, &7u32.to_le_bytes());
    fix_header_crc(&p);
    expect_corrupt(&p, open_c(&p), |c| {
        matches!(
            c,
            Corruption::BadVersion {
                found: 7,
                expected: 1
            }
        )
    });
}

#[test]
fn header_checksum_and_fields() {
    let d = tempfile::tempdir().unwrap();
    // A flipped bit anywhere in the static header is caught by its checksum.
    let p = fresh(&d, "crc");
    let mut b = peek(&p, 20, 1);
    b[0] ^= 0x10;
    poke(&p, 20, &b);
    expect_corrupt(&p, open_c(&p), |c| {
        matches!(c, Corruption::HeaderChecksum { .. })
    });
    // Fields with a valid checksum but impossible values.
    for (i, (off, val, field)) in [
        (16u64, 5000u64.to_le_bytes().to_vec(), "capacity"),
        (16, 2048u64.to_le_bytes().to_vec(), "capacity"),
        (16, (1u64 << 50).to_le_bytes().to_vec(), "capacity"),
        (12, 512u32.to_le_bytes().to_vec(), "header_len"),
        (24, 6u64.to_le_bytes().to_vec(), "flags"),
    ]
    .into_iter()
    .enumerate()
    {
        let p = fresh(&d, &format!("{field}-{i}"));
        poke(&p, off, &val);
        fix_header_crc(&p);
        expect_corrupt(
            &p,
            open_c(&p),
            |c| matches!(c, Corruption::BadHeaderField { field: f, .. } if *f == field),
        );
    }
    // A capacity that is valid but disagrees with the file's size.
    let p = fresh(&d, "size");
    poke(&p, 16, &8192u64.to_le_bytes());
    fix_header_crc(&p);
    expect_corrupt(&p, open_c(&p), |c| {
        matches!(
            c,
            Corruption::WrongSize {
                expected: 12288,
                found: 8192,
                ..
            }
        )
    });
}

#[test]
fn truncated_at_each_region_boundary() {
    let d = tempfile::tempdir().unwrap();
    let total = HEADER_LEN as u64 + CAP;
    for size in [
        0,
        1,
        8,
        63,
        64,
        128,
        256,
        4095,
        4096,
        4096 + 16,
        4096 + CAP / 2,
        total - 8,
        total - 1,
        total + 1,
        total + 4096,
    ] {
        let p = fresh(&d, &format!("t{size}"));
        std::fs::File::options()
            .write(true)
            .open(&p)
            .unwrap()
            .set_len(size)
            .unwrap();
        let r = open_c(&p);
        if size < 64 {
            expect_corrupt(&p, r, |c| matches!(c, Corruption::WrongSize { .. }));
        } else {
            expect_corrupt(
                &p,
                r,
                |c| matches!(c, Corruption::WrongSize { found, .. } if *found == size),
            );
        }
        expect_corrupt(&p, open_p(&p), |c| {
            matches!(c, Corruption::WrongSize { .. })
        });
    }
}

#[test]
fn cursors_out_of_range() {
    let d = tempfile::tempdir().unwrap();
    let huge = u64::MAX - 7;
    let cases: [(&str, u64, u64); 6] = [
        ("head beyond tail", 64, 32),
        // Found in review: sums of positions overflowed (a panic in debug builds).
        ("cursors near 2^64", huge, huge),
        ("cursors at 2^62", 1 << 62, 1 << 62),
        ("more than capacity", 0, CAP + 8),
        ("misaligned tail", 0, 20),
        ("misaligned head", 4, 40),
    ];
    for (name, head, tail) in cases {
        let p = fresh(&d, name);
        poke(&p, OFF_HEAD, &head.to_le_bytes());
        poke(&p, OFF_TAIL, &tail.to_le_bytes());
        expect_corrupt(&p, open_c(&p), |c| {
            matches!(c, Corruption::BadCursors { .. })
        });
        expect_corrupt(&p, open_p(&p), |c| {
            matches!(c, Corruption::BadCursors { .. })
        });
    }
}

#[test]
fn cursors_corrupted_while_attached() {
    let d = tempfile::tempdir().unwrap();
    let p = fresh(&d, "live");
    let mut c = open_c(&p).unwrap();
    let mut prod = open_p(&p).unwrap();
    prod.push(1, b"abc").unwrap();
    assert_eq!(c.read().unwrap().unwrap().payload(), b"abc");
    c.release();
    // A foreign writer moves the tail far ahead: the consumer refuses it.
    poke(&p, OFF_TAIL, &(CAP * 3).to_le_bytes());
    expect_corrupt(
        &p,
        c.read().map(|_| ()),
        |x| matches!(x, Corruption::BadCursors { head: 24, tail, capacity: CAP, .. } if *tail == CAP * 3),
    );
    // ... and moves the head past the tail: the producer refuses it when it looks.
    poke(&p, OFF_TAIL, &24u64.to_le_bytes());
    poke(&p, OFF_HEAD, &(1u64 << 40).to_le_bytes());
    let mut refused = false;
    for _ in 0..1000 {
        match prod.push(1, &[0; 100]) {
            Ok(_) => continue,
            Err(sairing_ring::PushError::Ring(e)) => {
                // The error names what was found: the head, and the capacity
                // it was judged against.
                assert!(
                    matches!(
                        e.corruption(),
                        Some(Corruption::BadCursors { head, capacity: CAP, .. }) if *head == 1 << 40
                    ),
                    "{e}"
                );
                refused = true;
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(
        refused,
        "producer never noticed the head moving past the tail"
    );
}

#[test]
fn record_lengths_out_of_range() {
    let d = tempfile::tempdir().unwrap();
    let data = HEADER_LEN as u64;
    // Length past the tail.
    let p = fresh(&d, "pasttail");
    fill(&p, &[10, 10]);
    poke(&p, data, &100u32.to_le_bytes());
    expect_corrupt(
        &p,
        open_c(&p).and_then(|mut c| c.read().map(|_| ())),
        |c| matches!(c, Corruption::BadRecord { why, len: 100, .. } if why.contains("past the producer's tail")),
    );
    // Length past the end of the data area.
    let p = fresh(&d, "pastend");
    fill(&p, &[10]);
    poke(&p, data, &u32::MAX.to_le_bytes());
    expect_corrupt(
        &p,
        open_c(&p).and_then(|mut c| c.read().map(|_| ())),
        |c| matches!(c, Corruption::BadRecord { why, .. } if why.contains("end of the data area")),
    );
    // Padding of the wrong length.
    let p = fresh(&d, "pad");
    fill(&p, &[10]);
    let mut w = peek(&p, data, 8);
    w[0..4].copy_from_slice(&8u32.to_le_bytes());
    w[4..6].copy_from_slice(&0xFFFFu16.to_le_bytes());
    poke(&p, data, &w);
    expect_corrupt(
        &p,
        open_c(&p).and_then(|mut c| c.read().map(|_| ())),
        |c| matches!(c, Corruption::BadRecord { why, .. } if why.contains("padding")),
    );
    // Kind 0 and unknown flags.
    for (name, off, bytes) in [("kind0", 4u64, vec![0u8, 0]), ("flags", 6, vec![0x80, 0])] {
        let p = fresh(&d, name);
        fill(&p, &[10]);
        poke(&p, data + off, &bytes);
        expect_corrupt(&p, open_c(&p).and_then(|mut c| c.read().map(|_| ())), |c| {
            matches!(c, Corruption::BadRecord { .. })
        });
    }
}

#[test]
fn sequence_gap_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let p = fresh(&d, "seq");
    let pos = fill(&p, &[5, 5, 5]);
    poke(&p, HEADER_LEN as u64 + pos[1] + 8, &9u64.to_le_bytes());
    let mut c = open_c(&p).unwrap();
    assert_eq!(c.read().unwrap().unwrap().seq(), 1);
    expect_corrupt(&p, c.read().map(|_| ()), |x| {
        matches!(
            x,
            Corruption::BadSequence {
                found: 9,
                expected: 2,
                ..
            }
        )
    });
    // The producer's recovery scan refuses the same file.
    expect_corrupt(&p, open_p(&p), |x| {
        matches!(x, Corruption::BadSequence { .. })
    });
}

#[test]
fn checksum_catches_a_torn_record() {
    let d = tempfile::tempdir().unwrap();
    let p = fresh_with(&d, "torn", true);
    let mut prod = open_p(&p).unwrap();
    for i in 0..3u8 {
        prod.push(3, &[i; 40]).unwrap();
    }
    prod.sync().unwrap();
    drop(prod);
    let second = HEADER_LEN as u64 + sairing_ring::layout::record_size(40, true) as u64;
    poke(&p, second + RECORD_HEADER_LEN as u64 + 17, &[0xEE]);
    let mut c = open_c(&p).unwrap();
    assert_eq!(c.read().unwrap().unwrap().payload(), &[0u8; 40]);
    expect_corrupt(&p, c.read().map(|_| ()), |x| {
        matches!(x, Corruption::RecordChecksum { seq: 2, .. })
    });
}

/// A xorshift generator of 64-bit numbers from `seed` (not 0): the same
/// "random" files on every run.
fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
    move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    }
}

#[test]
fn garbage_in_the_data_area_never_panics() {
    let d = tempfile::tempdir().unwrap();
    let mut next = xorshift(0x1234_5678_9abc_def0u64);
    let mut errors = 0;
    for round in 0..300 {
        let p = fresh(&d, &format!("g{round}"));
        let mut bytes = vec![0u8; CAP as usize];
        for b in bytes.iter_mut() {
            *b = next() as u8;
        }
        // Sometimes keep a plausible first header so deeper checks are reached.
        if round % 3 == 0 {
            bytes[4] = 1;
            bytes[5] = 0;
            bytes[6] = 0;
            bytes[7] = 0;
            bytes[8..16].copy_from_slice(&1u64.to_le_bytes());
            bytes[0..4].copy_from_slice(&((next() % 64) as u32).to_le_bytes());
        }
        poke(&p, HEADER_LEN as u64, &bytes);
        let tail = (next() % (CAP / 8 + 1)) * 8;
        poke(&p, OFF_TAIL, &tail.to_le_bytes());
        // Every outcome is a record or a clean error; reading stops at the first error.
        let r = open_c(&p).and_then(|mut c| {
            let mut n = 0;
            while let Some(rec) = c.read()? {
                assert_eq!(rec.seq(), 1 + n);
                n += 1;
            }
            Ok(n)
        });
        if let Err(e) = r {
            assert!(e.corruption().is_some(), "{e}");
            errors += 1;
        }
        let _ = open_p(&p).map(drop);
    }
    assert!(
        errors > 250,
        "garbage was accepted too often: {errors} errors in 300"
    );
}

#[test]
fn truncated_by_another_process_while_mapped() {
    let d = tempfile::tempdir().unwrap();
    // SAFETY: sysconf reads a constant of the system; no memory is passed.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64;
    let cuts = [0u64, 100, HEADER_LEN as u64, HEADER_LEN as u64 + 1024];
    for (cut, staged) in cuts.into_iter().flat_map(|c| [(c, false), (c, true)]) {
        let p = fresh(&d, &format!("cut{cut}-{staged}"));
        let mut prod = open_p(&p).unwrap();
        let mut c = open_c(&p).unwrap();
        for i in 0..40u8 {
            prod.push(1, &[i; 60]).unwrap();
        }
        assert_eq!(c.read().unwrap().unwrap().seq(), 1);
        truncate_by_another_process(&p, cut);
        // Reading on touches pages that no longer exist: an error, not a SIGBUS.
        let mut got = Ok(());
        for _ in 0..100 {
            match c.read() {
                Ok(Some(_)) => continue,
                Ok(None) => break,
                Err(e) => {
                    got = Err(e);
                    break;
                }
            }
        }
        expect_corrupt(&p, got, |x| *x == Corruption::TruncatedWhileMapped);
        expect_corrupt(&p, c.check(), |x| *x == Corruption::TruncatedWhileMapped);
        c.release();
        // The producer never crashes. Records written into pages the file no
        // longer reaches (the guard maps zeros there) land in memory nobody
        // reads; the commit that wrote one, or the publish of a burst that
        // did, notes the fault, and every push after it is refused. When the
        // data area lies on pages wholly past the cut, the first record is
        // written there. Otherwise the producer may only ever write into the
        // page the cut falls in (past the file's end, but backed while any of
        // the page is), and then nothing faults.
        let truncated = |r: &Result<u64, PushError>| {
            matches!(r, Err(PushError::Ring(e))
                if e.corruption() == Some(&Corruption::TruncatedWhileMapped))
        };
        let pushes: Vec<Result<u64, PushError>> = (0..200u8)
            .map(|i| {
                if !staged {
                    return prod.push(1, &[i; 60]);
                }
                // Bursts of four, published together.
                let mut r = prod.reserve(60, 1)?;
                r.copy_from_slice(&[i; 60]);
                let seq = r.stage();
                if i % 4 == 3 {
                    prod.publish();
                }
                Ok(seq)
            })
            .collect();
        let first = pushes.iter().position(truncated);
        if cut.next_multiple_of(page) <= HEADER_LEN as u64 {
            let by = if staged { 4 } else { 1 };
            assert!(
                first.is_some_and(|f| f <= by),
                "cut {cut}, staged {staged}: not refused by push {by}: {:?}",
                &pushes[..8]
            );
        }
        if let Some(first) = first {
            if let Some(i) = (first..pushes.len()).find(|&i| !truncated(&pushes[i])) {
                panic!(
                    "cut {cut}, staged {staged}: push {i} after a refused one gave {:?}",
                    pushes[i]
                );
            }
        }
        expect_corrupt(&p, prod.check(), |x| *x == Corruption::TruncatedWhileMapped);
    }
}

/// A consumer that died between its two stores of a release left `head_seq`
/// ahead of the record at its head: the next consumer takes the record's own
/// sequence number, and reads on without a sequence error.
#[test]
fn a_consumer_resumes_at_the_record_at_its_head() {
    let d = tempfile::tempdir().unwrap();
    let p = fresh(&d, "resume");
    let mut prod = open_p(&p).unwrap();
    for i in 1..=3u8 {
        prod.push(1, &[i]).unwrap();
    }
    let mut c = open_c(&p).unwrap();
    assert_eq!(c.read().unwrap().unwrap().seq(), 1);
    c.release();
    drop(c);
    poke(&p, OFF_HEAD_SEQ, &5u64.to_le_bytes());
    let mut c = open_c(&p).unwrap();
    assert_eq!(c.next_seq(), 2);
    let seqs: Vec<u64> = std::iter::from_fn(|| c.read().unwrap().map(|r| r.seq())).collect();
    assert_eq!(seqs, [2, 3]);
}

/// A tail moved by a foreign writer to one record past the free space (not
/// far past it) is refused as a bad cursor.
#[test]
fn a_tail_just_past_the_free_space_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let p = fresh(&d, "tail");
    let mut prod = open_p(&p).unwrap();
    let mut c = open_c(&p).unwrap();
    prod.push(1, b"abc").unwrap();
    c.read().unwrap().unwrap();
    c.release(); // head 24, and the consumer has seen the tail at 24
    let tail = 24 + CAP + 8;
    poke(&p, OFF_TAIL, &tail.to_le_bytes());
    expect_corrupt(
        &p,
        c.read().map(|_| ()),
        |x| matches!(x, Corruption::BadCursors { tail: t, .. } if *t == tail),
    );
}

/// A record whose header is on a page the file still reaches and whose
/// payload runs onto a page it no longer does: the copy holds the zeros the
/// guard mapped there, and is refused, never delivered.
#[test]
fn a_record_cut_in_two_by_a_truncation_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path().join("straddle");
    create(&p, &CreateOptions::with_capacity(4 * CAP)).unwrap();
    let mut prod = open_p(&p).unwrap();
    let mut c = open_c(&p).unwrap();
    // Records of 1,016 bytes at 0, 1016, 2032, 3048 and 4064: the fifth
    // crosses the data area's offset 4096, a page boundary.
    for i in 0..5u8 {
        prod.push(1, &[i + 1; 1000]).unwrap();
    }
    for _ in 0..4 {
        c.read().unwrap().unwrap();
    }
    c.release();
    truncate_by_another_process(&p, HEADER_LEN as u64 + 4096);
    expect_corrupt(&p, c.read().map(|_| ()), |x| {
        *x == Corruption::TruncatedWhileMapped
    });
}

/// A record corrupted after the consumer opened (so judged by the read, not
/// the scan at opening) whose length runs past the producer's tail, though
/// not past the end of the data area: refused.
#[test]
fn a_length_past_the_tail_is_refused_while_reading() {
    let d = tempfile::tempdir().unwrap();
    let p = fresh(&d, "pasttail-live");
    let mut prod = open_p(&p).unwrap();
    let mut c = open_c(&p).unwrap();
    for _ in 0..3 {
        prod.push(1, &[7; 8]).unwrap(); // 24 bytes each: the tail at 72
    }
    c.read().unwrap().unwrap();
    // The second record, at 24, claims 50 bytes: 64 with its header, to 88.
    poke(&p, HEADER_LEN as u64 + 24, &50u32.to_le_bytes());
    expect_corrupt(
        &p,
        c.read().map(|_| ()),
        |x| matches!(x, Corruption::BadRecord { why, len: 50, .. } if why.contains("past the producer's tail")),
    );
}

#[test]
fn files_that_are_not_ours() {
    let d = tempfile::tempdir().unwrap();
    let p = fresh(&d, "real");
    // A symlink is never followed.
    let link = d.path().join("link");
    std::os::unix::fs::symlink(&p, &link).unwrap();
    assert!(matches!(open_c(&link), Err(Error::Symlink { .. })));
    // A directory is not a ring.
    assert!(matches!(
        open_c(d.path()),
        Err(Error::Io { .. }) | Err(Error::NotRegular { .. })
    ));
    // Another user's file is refused unless allowed.
    std::os::unix::fs::chown(&p, Some(4242), None).unwrap();
    match open_c(&p) {
        Err(Error::ForeignOwner { owner: 4242, .. }) => {}
        other => panic!("foreign file not refused: {:?}", other.err()),
    }
    let allowed = OpenOptions {
        allow_foreign_owner: true,
        ..Default::default()
    };
    Consumer::open(&p, &allowed).unwrap();
    // An existing file is never overwritten.
    match create(&p, &CreateOptions::with_capacity(CAP)) {
        Err(Error::AlreadyExists { .. }) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(peek(&p, 0, 8), MAGIC);
    // Bad capacities are refused before anything is written.
    for cap in [0, 1000, 2048, 3 << 12] {
        assert!(matches!(
            create(
                d.path().join(format!("c{cap}")),
                &CreateOptions::with_capacity(cap)
            ),
            Err(Error::BadCapacity { .. })
        ));
        assert!(!d.path().join(format!("c{cap}")).exists());
    }
}

#[test]
fn created_with_private_modes() {
    let d = tempfile::tempdir().unwrap();
    let p = fresh(&d, "private");
    let m = std::fs::metadata(&p).unwrap();
    assert_eq!(m.permissions().mode() & 0o777, 0o600);
    assert_eq!(m.len(), HEADER_LEN as u64 + CAP);
    let g = d.path().join("group");
    create(
        &g,
        &CreateOptions {
            capacity: CAP,
            checksums: false,
            group: Some(4243),
        },
    )
    .unwrap();
    let m = std::fs::metadata(&g).unwrap();
    assert_eq!(m.permissions().mode() & 0o777, 0o660);
    assert_eq!(m.gid(), 4243);
    // No temporary file is left behind.
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 2);
}

/// A record read stays what it was when read, whatever another process writes
/// into the ring afterwards: the consumer hands out a private copy, never a
/// reference into the mapping. (Found: the payload was a `&[u8]` over the
/// mapping, and a rewrite through a second mapping changed bytes that had been
/// validated, which left a `&str` holding invalid UTF-8.)
#[test]
fn a_record_read_is_not_changed_by_a_later_rewrite() {
    let d = tempfile::tempdir().unwrap();
    let p = fresh(&d, "rewrite");
    let mut prod = open_p(&p).unwrap();
    for i in 0..4u8 {
        prod.push(1, &[b'a' + i; 24]).unwrap();
    }
    let first = HEADER_LEN as u64 + RECORD_HEADER_LEN as u64;
    let second = first + sairing_ring::layout::record_size(24, false) as u64;
    let mut c = open_c(&p).unwrap();
    {
        let r = c.read().unwrap().unwrap();
        poke(&p, first, &[0xFF; 24]);
        assert_eq!(
            peek(&p, first, 24),
            vec![0xFF; 24],
            "the rewrite reached the file"
        );
        assert_eq!(r.payload(), &[b'a'; 24]);
    }
    let b = c.read_batch(8).unwrap();
    poke(&p, second, &[0xFE; 24]);
    let got: Vec<Vec<u8>> = b.iter().map(|r| r.payload().to_vec()).collect();
    assert_eq!(got, vec![vec![b'b'; 24], vec![b'c'; 24], vec![b'd'; 24]]);
    let after = b.iter().last().map(|r| r.seq() + 1);
    b.release();
    // Releasing the batch released everything read, up to its last record.
    assert_eq!(Some(c.released_seq()), after);
}

/// In a ring with checksums every record is checked, whatever its flags say.
/// (Found: the fast path's tag filter let flags 0x8000 through, and a record
/// with a bad checksum was delivered.)
#[test]
fn checksummed_ring_checks_records_with_odd_flags() {
    let d = tempfile::tempdir().unwrap();
    let p = fresh_with(&d, "flags", true);
    let mut prod = open_p(&p).unwrap();
    for i in 0..3u8 {
        prod.push(7, &[i; 40]).unwrap();
    }
    drop(prod);
    let second = HEADER_LEN as u64 + sairing_ring::layout::record_size(40, true) as u64;
    // Flags 0x8000 in the header word, and a payload that the trailer does not cover.
    poke(&p, second + 6, &0x8000u16.to_le_bytes());
    poke(&p, second + RECORD_HEADER_LEN as u64, &[0xAB; 40]);
    let mut c = open_c(&p).unwrap();
    assert_eq!(c.read().unwrap().unwrap().payload(), &[0u8; 40]);
    match c.read() {
        Ok(Some(r)) => panic!("delivered record {} ({:?})", r.seq(), r.payload()),
        Ok(None) => panic!("the record vanished"),
        Err(e) => assert!(matches!(e, Error::Corrupt { .. }), "{e}"),
    }
}

/// A producer whose file is truncated under it learns of it: a push after the
/// fault fails, and every push after that. (Found: 545 pushes into a truncated
/// file all returned Ok, into memory nobody would ever read.)
#[test]
fn a_producer_learns_its_file_was_truncated() {
    let d = tempfile::tempdir().unwrap();
    // Cuts at page boundaries, so that the producer's writes fault. (A cut
    // inside a page leaves that page mapped, writes past the end vanish without
    // a fault, and only `check()`, which looks at the file's size, tells.)
    for cut in [0u64, HEADER_LEN as u64] {
        let p = fresh(&d, &format!("pcut{cut}"));
        let mut prod = open_p(&p).unwrap();
        let mut c = open_c(&p).unwrap();
        for i in 0..10u8 {
            prod.push(1, &[i; 60]).unwrap();
        }
        truncate_by_another_process(&p, cut);
        let mut first_err = None;
        for i in 0..1000u32 {
            // The consumer keeps up, so the ring never fills.
            while let Ok(Some(_)) = c.read() {}
            c.release();
            match prod.push(1, &[7; 60]) {
                Ok(_) => assert!(first_err.is_none(), "push {i} succeeded after an error"),
                Err(e) => {
                    first_err.get_or_insert(i);
                    assert!(
                        matches!(
                            &e,
                            sairing_ring::PushError::Ring(r)
                                if r.corruption() == Some(&Corruption::TruncatedWhileMapped)
                        ),
                        "{e}"
                    );
                }
            }
        }
        assert!(
            first_err.is_some(),
            "cut {cut}: 1000 pushes into a truncated file all returned Ok"
        );
    }
}

/// The SIGBUS guard covers a fixed number of mappings per process; one more is
/// refused at open with a clear error instead of being mapped unguarded (where
/// a truncation would crash the process).
#[test]
fn a_mapping_the_guard_cannot_cover_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let p = fresh(&d, "many");
    let mut open = Vec::new();
    let err = loop {
        match sairing_ring::Observer::open(&p) {
            Ok(o) => open.push(o),
            Err(e) => break e,
        }
        assert!(
            open.len() <= 1000,
            "1000 guarded mappings: the guard has no limit?"
        );
    };
    assert!(open.len() <= 256, "{} mappings", open.len());
    assert!(err.to_string().contains("SIGBUS guard"), "{err}");
    drop(open);
    sairing_ring::Observer::open(&p).expect("room again once mappings are dropped");
}

/// Runs `ringstress sigbus-chain` with an earlier SIGBUS disposition and
/// returns its output lines and how it ended.
fn chain(previous: &str, raises: u32) -> (Vec<String>, std::process::ExitStatus) {
    chain_with(previous, raises, &[])
}

fn chain_with(
    previous: &str,
    raises: u32,
    extra: &[&str],
) -> (Vec<String>, std::process::ExitStatus) {
    let d = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ringstress"))
        .arg("sigbus-chain")
        .arg(d.path())
        .args(["--previous", previous, "--raises", &raises.to_string()])
        .args(extra)
        .output()
        .expect("run ringstress");
    let lines = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    (lines, out.status)
}

fn killed_by_sigbus(status: &std::process::ExitStatus) -> bool {
    use std::os::unix::process::ExitStatusExt;
    status.signal() == Some(libc::SIGBUS)
}

/// A SIGBUS the guard does not own (here one sent by raise) ends as the
/// disposition before the guard would have ended it: the default action
/// terminates the process, SIG_IGN ignores it, and an earlier handler runs with
/// its own mask (SIGUSR1 here) and, having no SA_NODEFER, SIGBUS blocked.
#[test]
fn signals_the_guard_does_not_own_go_where_they_went_before() {
    let (lines, status) = chain("default", 1);
    assert!(
        killed_by_sigbus(&status) && lines.is_empty(),
        "default action: the process must die of SIGBUS, got {status} {lines:?}"
    );

    let (lines, status) = chain("ignore", 2);
    assert!(status.success(), "SIG_IGN: {status} {lines:?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("after 2 calls=0 usr1=0 bus=0")
    );

    let (lines, status) = chain("handler", 2);
    assert!(status.success(), "handler: {status} {lines:?}");
    assert_eq!(
        lines.last().map(String::as_str),
        Some("after 2 calls=2 usr1=1 bus=1"),
        "the earlier handler must run twice with its mask and SIGBUS blocked"
    );

    // SA_RESETHAND: the earlier handler runs once, then the default action.
    let (lines, status) = chain("resethand", 2);
    assert_eq!(lines, ["after 1 calls=1 usr1=1 bus=1"], "{status}");
    assert!(
        killed_by_sigbus(&status),
        "second SIGBUS must kill: {status}"
    );
}

/// An earlier handler that resets SIGBUS to the default and returns (std's
/// stack-overflow handler does, for a SIGBUS outside its guard page) must not
/// remove the guard (found in review: after one `kill -BUS`, the next
/// truncation of a ring killed the process).
#[test]
fn an_earlier_handler_that_resets_the_disposition_keeps_the_guard() {
    let (lines, status) = chain_with("resets-to-default", 1, &["--then-truncate"]);
    assert!(status.success(), "{status} {lines:?}");
    assert_eq!(
        lines.first().map(String::as_str),
        Some("after 1 calls=1 usr1=0 bus=0")
    );
    let t = lines.get(1).map(String::as_str).unwrap_or_default();
    assert!(t.contains("truncated"), "{lines:?}");
}

/// A ring whose head and tail are both at `at`, then a padding record there
/// when `pad` (running to the end of the data area), then the tail moved to
/// `tail`: the states around the end of the data area that the producer never
/// writes but a foreign writer can.
fn at_the_end(d: &tempfile::TempDir, name: &str, at: u64, pad: bool, tail: u64) -> PathBuf {
    let p = fresh(d, name);
    poke(&p, OFF_HEAD, &at.to_le_bytes());
    poke(&p, OFF_TAIL, &at.to_le_bytes());
    if pad {
        let mut w = [0u8; 16];
        w[0..4].copy_from_slice(&((CAP - at) as u32 - RECORD_HEADER_LEN as u32).to_le_bytes());
        w[4..6].copy_from_slice(&0xFFFFu16.to_le_bytes());
        w[8..16].copy_from_slice(&1u64.to_le_bytes());
        poke(&p, HEADER_LEN as u64 + at, &w);
    }
    poke(&p, OFF_TAIL, &tail.to_le_bytes());
    p
}

/// Padding that runs past the producer's tail is refused: skipping it would
/// carry the consumer beyond the tail (cargo-mutants: `>` with `==` in the
/// check survived every test).
#[test]
fn padding_running_past_the_tail_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let p = at_the_end(&d, "pad-past", CAP - 64, true, CAP - 32);
    expect_corrupt(
        &p,
        open_c(&p).and_then(|mut c| c.read().map(|_| ())),
        |c| matches!(c, Corruption::BadRecord { why, .. } if why.contains("padding runs past")),
    );
}

/// A tail exactly at the end of the 8-byte gap, or of a padding record, at the
/// end of the data area is consistent: nothing to read, no error.
#[test]
fn a_tail_at_the_end_of_a_gap_or_padding_is_an_empty_ring() {
    let d = tempfile::tempdir().unwrap();
    for (name, at, pad) in [("gap", CAP - 8, false), ("pad", CAP - 64, true)] {
        let p = at_the_end(&d, name, at, pad, CAP);
        let mut c = open_c(&p).unwrap();
        assert!(c.read().unwrap().is_none(), "{name}: a record from nowhere");
    }
}

/// A record as delivered: sequence number, kind, payload.
type Delivered = (u64, u16, Vec<u8>);

/// Everything a file holds, read one record at a time (`batch == 0`) or in
/// batches of at most `batch`: the records delivered, and how reading ended.
fn read_all(path: &Path, batch: usize) -> (Vec<Delivered>, Option<String>) {
    let mut got = Vec::new();
    let mut c = match open_c(path) {
        Ok(c) => c,
        Err(e) => return (got, Some(e.to_string())),
    };
    loop {
        if batch == 0 {
            match c.read() {
                Ok(Some(r)) => got.push((r.seq(), r.kind(), r.payload().to_vec())),
                Ok(None) => return (got, None),
                Err(e) => return (got, Some(e.to_string())),
            }
        } else {
            match c.read_batch(batch) {
                Ok(b) if b.is_empty() => return (got, None),
                Ok(b) => {
                    assert!(
                        b.len() <= batch,
                        "{} records in a batch of {batch}",
                        b.len()
                    );
                    got.extend(b.iter().map(|r| (r.seq(), r.kind(), r.payload().to_vec())));
                }
                Err(e) => return (got, Some(e.to_string())),
            }
        }
    }
}

/// A batch delivers exactly what reading one record at a time does, and stops
/// at the same corruption with the same error: over files of valid records of
/// every size (some longer than a batch's copy of 4 KiB, wrapping with padding
/// and without), then with bytes flipped in the data area or the tail moved.
#[test]
fn a_batch_reads_a_file_as_single_reads_do() {
    let d = tempfile::tempdir().unwrap();
    let cap = 1u64 << 15;
    let mut next = xorshift(0x9e37_79b9_7f4a_7c15u64);
    let mut corrupt_seen = 0;
    for round in 0..200 {
        let p = d.path().join(format!("b{round}"));
        create(&p, &CreateOptions::with_capacity(cap)).unwrap();
        // Records of assorted sizes, pushed and read through (to move the
        // ring to a random place in its lap), then pushed and left.
        let mut prod = open_p(&p).unwrap();
        let mut c = open_c(&p).unwrap();
        let size = |r: u64| match r % 8 {
            0 => (r >> 8) as usize % 9000,
            1 => 4096 - 16 + (r >> 8) as usize % 40,
            _ => (r >> 8) as usize % 64,
        };
        for _ in 0..next() % 40 {
            let r = next();
            prod.push(1 + (r >> 40) as u16 % 7, &vec![r as u8; size(r)])
                .unwrap();
            c.read().unwrap().unwrap();
            c.release();
        }
        drop(c);
        // Where each record's header goes (for the flips below).
        let mut at = u64::from_le_bytes(peek(&p, OFF_HEAD, 8).try_into().unwrap());
        let mut headers = Vec::new();
        loop {
            let r = next();
            let len = size(r);
            match prod.push(1 + (r >> 40) as u16 % 7, &vec![r as u8; len]) {
                Ok(_) => {
                    let rs = sairing_ring::layout::record_size(len, false) as u64;
                    if rs > cap - at % cap {
                        at += cap - at % cap;
                    }
                    headers.push(at % cap);
                    at += rs;
                }
                Err(PushError::Full { .. }) => break,
                Err(e) => panic!("{e}"),
            }
        }
        drop(prod);
        if round % 4 != 0 {
            // Corrupt: a few bytes flipped, or the tail moved.
            if next().is_multiple_of(5) {
                let tail = u64::from_le_bytes(peek(&p, OFF_TAIL, 8).try_into().unwrap());
                let moved = tail.wrapping_add((next() % 64) * 8).wrapping_sub(256);
                poke(&p, OFF_TAIL, &moved.to_le_bytes());
            } else {
                for i in 0..1 + next() % 3 {
                    // A bit of a record's header, or any bit.
                    let at = HEADER_LEN as u64
                        + if i == 0 && !headers.is_empty() {
                            headers[next() as usize % headers.len()] + next() % 16
                        } else {
                            next() % cap
                        };
                    let old = peek(&p, at, 1)[0];
                    poke(&p, at, &[old ^ (1 << (next() % 8))]);
                }
            }
        }
        let one = read_all(&p, 0);
        if one.1.is_some() {
            corrupt_seen += 1;
        }
        for batch in [1, 3, 64, 10_000] {
            let many = read_all(&p, batch);
            assert_eq!(
                (many.0.len(), &many.1),
                (one.0.len(), &one.1),
                "round {round}, batches of {batch}: records read and how reading ended"
            );
            assert!(
                many.0 == one.0,
                "round {round}, batches of {batch}: records differ"
            );
        }
    }
    assert!(
        corrupt_seen > 50,
        "too few files were refused for the comparison to mean much: {corrupt_seen}"
    );
}

/// A batch read while the file is truncated under it delivers the records on
/// the pages the file still reaches, intact, and never the zeros the guard
/// put where the others were: the next read reports the truncation.
#[test]
fn a_batch_read_across_a_truncation_is_refused() {
    let d = tempfile::tempdir().unwrap();
    for max in [4, 8] {
        let p = d.path().join(format!("straddle-batch-{max}"));
        create(&p, &CreateOptions::with_capacity(4 * CAP)).unwrap();
        let mut prod = open_p(&p).unwrap();
        let mut c = open_c(&p).unwrap();
        // Records of 1,016 bytes at 0, 1016, 2032, 3048 and 4064: the fifth
        // crosses the data area's offset 4096, a page boundary.
        for i in 0..5u8 {
            prod.push(1, &[i + 1; 1000]).unwrap();
        }
        truncate_by_another_process(&p, HEADER_LEN as u64 + 4096);
        let b = c.read_batch(max).unwrap();
        let got: Vec<(u64, Vec<u8>)> = b.iter().map(|r| (r.seq(), r.payload().to_vec())).collect();
        let want: Vec<(u64, Vec<u8>)> = (1..=4u8).map(|i| (i as u64, vec![i; 1000])).collect();
        assert!(
            got == want,
            "batch of {max}: the four records before the cut page"
        );
        drop(b);
        expect_corrupt(&p, c.read_batch(8).map(|_| ()), |x| {
            *x == Corruption::TruncatedWhileMapped
        });
        expect_corrupt(&p, c.read().map(|_| ()), |x| {
            *x == Corruption::TruncatedWhileMapped
        });
    }
}
