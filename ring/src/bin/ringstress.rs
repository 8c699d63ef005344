//! `ringstress`: a producer, consumer or role holder for a ring file, used by the
//! ring's multi-process tests and usable as a soak test by hand.
//!
//! The producer writes records 1..=N whose size, kind and bytes are a function of
//! their sequence number, so the consumer can check every byte of every record,
//! and either side can be killed and restarted at any moment:
//!
//! ```text
//! ringstress create /dev/shm/r --capacity 65536
//! ringstress produce /dev/shm/r --count 1000000 &
//! ringstress consume /dev/shm/r --count 1000000
//! ```
//!
//! Output, one line per event, flushed at once: `resume SEQ` at start,
//! `progress SEQ` (producer, committed up to) or `released SEQ` (consumer), and
//! `done SEQ` at the end. A bad record exits with status 2 and one line on stderr.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Parser, Subcommand, ValueEnum};
use sairing_ring::{create, Consumer, CreateOptions, OpenOptions, Producer, PushError};

#[derive(Parser)]
#[command(about = "Produce, consume or hold a sairing ring file for testing")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum RoleArg {
    Producer,
    Consumer,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create a ring file.
    Create {
        path: PathBuf,
        #[arg(long, default_value_t = 1 << 16)]
        capacity: u64,
        #[arg(long)]
        checksums: bool,
    },
    /// Write records up to sequence number COUNT, resuming after the last committed one.
    Produce {
        path: PathBuf,
        #[arg(long)]
        count: u64,
        /// Largest payload (sizes vary from 0 to this).
        #[arg(long, default_value_t = 300)]
        max_size: usize,
        /// Print `progress` every this many records.
        #[arg(long, default_value_t = 1000)]
        every: u64,
    },
    /// Read and verify records up to sequence number COUNT, resuming at the released position.
    Consume {
        path: PathBuf,
        #[arg(long)]
        count: u64,
        #[arg(long, default_value_t = 300)]
        max_size: usize,
        /// Release after this many records.
        #[arg(long, default_value_t = 64)]
        batch: u64,
        /// Give up after this long without a new record.
        #[arg(long, default_value_t = 120)]
        idle_secs: u64,
    },
    /// Take a role and keep it until standard input closes.
    Hold {
        path: PathBuf,
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// Set a SIGBUS disposition, open a ring in DIR (which installs the ring's
    /// guard over it), then raise SIGBUS RAISES times, printing
    /// `after N calls=C usr1=U bus=B` after each: how often the earlier handler
    /// ran and whether SIGUSR1 and SIGBUS were blocked while it ran. Shows that
    /// the guard hands signals it does not own on as the earlier disposition
    /// would have handled them.
    SigbusChain {
        dir: PathBuf,
        #[arg(long, value_enum)]
        previous: Previous,
        #[arg(long, default_value_t = 1)]
        raises: u32,
        /// Then cut the ring file to its header under a producer and push
        /// until it fails, printing `truncation: ERROR` (or `truncation: none`).
        #[arg(long)]
        then_truncate: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Previous {
    /// The default action (terminate).
    Default,
    /// SIG_IGN.
    Ignore,
    /// A handler with SIGUSR1 in its mask and without SA_NODEFER.
    Handler,
    /// As `handler`, installed with SA_RESETHAND (runs once).
    Resethand,
    /// A handler that resets SIGBUS to SIG_DFL and returns, as std's
    /// stack-overflow handler does for a SIGBUS outside a guard page.
    ResetsToDefault,
}

extern "C" fn resets_to_default(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // SAFETY: resetting a disposition is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
    }
}

static CALLS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
static USR1_BLOCKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
static BUS_BLOCKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

extern "C" fn earlier_handler(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    use std::sync::atomic::Ordering::Relaxed;
    // SAFETY: an all-zero sigset_t is a valid place for the kernel to write to.
    let mut cur: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: a null new set only reads the current mask into `cur`;
    // sigismember reads the set just written.
    unsafe {
        libc::pthread_sigmask(libc::SIG_BLOCK, std::ptr::null(), &mut cur);
        USR1_BLOCKED.store(libc::sigismember(&cur, libc::SIGUSR1) == 1, Relaxed);
        BUS_BLOCKED.store(libc::sigismember(&cur, libc::SIGBUS) == 1, Relaxed);
    }
    CALLS.fetch_add(1, Relaxed);
}

fn sigbus_chain(
    dir: PathBuf,
    previous: Previous,
    raises: u32,
    then_truncate: bool,
) -> anyhow::Result<()> {
    use std::sync::atomic::Ordering::Relaxed;
    // SAFETY: an all-zero sigaction is a valid value (SIG_DFL, no flags, empty mask).
    let mut act: libc::sigaction = unsafe { std::mem::zeroed() };
    match previous {
        Previous::Default => act.sa_sigaction = libc::SIG_DFL,
        Previous::Ignore => act.sa_sigaction = libc::SIG_IGN,
        Previous::Handler | Previous::Resethand => {
            act.sa_sigaction = earlier_handler as *const () as usize;
            act.sa_flags = libc::SA_SIGINFO;
            if matches!(previous, Previous::Resethand) {
                act.sa_flags |= libc::SA_RESETHAND;
            }
        }
        Previous::ResetsToDefault => {
            act.sa_sigaction = resets_to_default as *const () as usize;
            act.sa_flags = libc::SA_SIGINFO;
        }
    }
    // SAFETY: `act` is fully initialised, its handler (if any) has the
    // SA_SIGINFO signature, and the mask calls only write into `act.sa_mask`.
    unsafe {
        libc::sigemptyset(&mut act.sa_mask);
        libc::sigaddset(&mut act.sa_mask, libc::SIGUSR1);
        if libc::sigaction(libc::SIGBUS, &act, std::ptr::null_mut()) != 0 {
            bail!("sigaction: {}", std::io::Error::last_os_error());
        }
    }
    let path = dir.join("chain.ring");
    create(&path, &CreateOptions::default())?;
    let mut p = Producer::open(&path, &OpenOptions::default())?;
    let mut c = Consumer::open(&path, &OpenOptions::default())?;
    let mut out = std::io::stdout().lock();
    for n in 1..=raises {
        // SAFETY: raise has no preconditions; what it delivers is the test.
        unsafe {
            libc::raise(libc::SIGBUS);
        }
        say(
            &mut out,
            format_args!(
                "after {n} calls={} usr1={} bus={}",
                CALLS.load(Relaxed),
                USR1_BLOCKED.load(Relaxed) as u8,
                BUS_BLOCKED.load(Relaxed) as u8
            ),
        )?;
    }
    if then_truncate {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)?
            .set_len(sairing_ring::layout::HEADER_LEN as u64)?;
        let mut outcome = "none".to_owned();
        for _ in 0..1000 {
            while let Ok(Some(_)) = c.read() {}
            c.release();
            if let Err(e) = p.push(1, &[7; 60]) {
                outcome = e.to_string();
                break;
            }
        }
        say(&mut out, format_args!("truncation: {outcome}"))?;
    }
    Ok(())
}

/// The payload of record `seq`: its length and its bytes are functions of `seq`.
fn expected_len(seq: u64, max: usize) -> usize {
    let h = seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 40;
    (h % (max as u64 + 1)) as usize
}

fn expected_kind(seq: u64) -> u16 {
    1 + (seq % 7) as u16
}

fn fill(seq: u64, buf: &mut [u8]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (seq as u8)
            .wrapping_mul(31)
            .wrapping_add((i as u8).wrapping_mul(7))
            ^ (seq >> 8) as u8;
    }
}

fn say(out: &mut impl Write, line: std::fmt::Arguments) -> anyhow::Result<()> {
    out.write_fmt(line)?;
    out.write_all(b"\n")?;
    out.flush()?;
    Ok(())
}

fn backoff(spins: &mut u32) {
    *spins += 1;
    if *spins < 64 {
        std::hint::spin_loop();
    } else if *spins < 256 {
        std::thread::yield_now();
    } else {
        std::thread::sleep(Duration::from_micros(50));
    }
}

fn produce(path: PathBuf, count: u64, max: usize, every: u64) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut p = Producer::open(&path, &OpenOptions::default())?;
    say(&mut out, format_args!("resume {}", p.next_seq()))?;
    while p.next_seq() <= count {
        let seq = p.next_seq();
        let len = expected_len(seq, max);
        let mut spins = 0;
        loop {
            match p.reserve(len, expected_kind(seq)) {
                Ok(mut r) => {
                    fill(seq, &mut r);
                    r.commit();
                    break;
                }
                Err(PushError::Full { .. }) => backoff(&mut spins),
                Err(e) => return Err(e.into()),
            }
        }
        if seq % every == 0 {
            say(&mut out, format_args!("progress {seq}"))?;
        }
    }
    say(&mut out, format_args!("done {}", p.next_seq() - 1))
}

fn consume(
    path: PathBuf,
    count: u64,
    max: usize,
    batch: u64,
    idle: Duration,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    let mut c = Consumer::open(&path, &OpenOptions::default())?;
    say(&mut out, format_args!("resume {}", c.next_seq()))?;
    let mut expect = vec![0u8; max];
    let mut unreleased = 0;
    let mut last_seen = Instant::now();
    let mut spins = 0;
    while c.released_seq() <= count {
        let rec = c.read()?;
        let Some(rec) = rec else {
            if unreleased > 0 {
                c.release();
                unreleased = 0;
                say(&mut out, format_args!("released {}", c.released_seq() - 1))?;
                continue;
            }
            if last_seen.elapsed() > idle {
                bail!("no record for {idle:?}; next expected {}", c.next_seq());
            }
            backoff(&mut spins);
            continue;
        };
        spins = 0;
        last_seen = Instant::now();
        let seq = rec.seq();
        let len = expected_len(seq, max);
        fill(seq, &mut expect[..len]);
        if rec.kind() != expected_kind(seq) || rec.payload() != &expect[..len] {
            eprintln!(
                "record {seq}: kind {} len {}, expected kind {} len {} (contents {})",
                rec.kind(),
                rec.payload().len(),
                expected_kind(seq),
                len,
                if rec.payload().len() == len {
                    "differ"
                } else {
                    "-"
                }
            );
            std::process::exit(2);
        }
        unreleased += 1;
        if unreleased >= batch || seq == count {
            c.release();
            unreleased = 0;
            say(&mut out, format_args!("released {}", c.released_seq() - 1))?;
        }
    }
    say(&mut out, format_args!("done {}", c.released_seq() - 1))
}

fn hold(path: PathBuf, role: RoleArg) -> anyhow::Result<()> {
    let opts = OpenOptions::default();
    let _held: Box<dyn std::any::Any> = match role {
        RoleArg::Producer => Box::new(Producer::open(&path, &opts)?),
        RoleArg::Consumer => Box::new(Consumer::open(&path, &opts)?),
    };
    say(
        &mut std::io::stdout(),
        format_args!("held {}", std::process::id()),
    )?;
    let mut line = String::new();
    while std::io::stdin()
        .lock()
        .read_line(&mut line)
        .context("read stdin")?
        > 0
    {}
    Ok(())
}

fn main() {
    let cli = Cli::parse();
    let r = match cli.cmd {
        Cmd::Create {
            path,
            capacity,
            checksums,
        } => create(
            &path,
            &CreateOptions {
                capacity,
                checksums,
                group: None,
            },
        )
        .map_err(Into::into),
        Cmd::Produce {
            path,
            count,
            max_size,
            every,
        } => produce(path, count, max_size, every),
        Cmd::Consume {
            path,
            count,
            max_size,
            batch,
            idle_secs,
        } => consume(path, count, max_size, batch, Duration::from_secs(idle_secs)),
        Cmd::Hold { path, role } => hold(path, role),
        Cmd::SigbusChain {
            dir,
            previous,
            raises,
            then_truncate,
        } => sigbus_chain(dir, previous, raises, then_truncate),
    };
    if let Err(e) = r {
        eprintln!("ringstress: {e:#}");
        std::process::exit(1);
    }
}
