//! Shared pieces of sairing's benchmarks.
#![deny(missing_docs)]

use std::path::PathBuf;

/// A directory for benchmark ring files: tmpfs (`/dev/shm`) when there is one,
/// as in production, else the system's temporary directory.
pub fn scratch_dir() -> std::io::Result<tempfile::TempDir> {
    let shm = PathBuf::from("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm)
    } else {
        tempfile::tempdir()
    }
}

/// Creates a ring file of `capacity` bytes in `dir` and opens both sides.
pub fn file_ring(
    dir: &tempfile::TempDir,
    capacity: u64,
) -> Result<(sairing_ring::Producer, sairing_ring::Consumer), sairing_ring::Error> {
    let path = dir.path().join("ring");
    sairing_ring::create(&path, &sairing_ring::CreateOptions::with_capacity(capacity))?;
    let opts = sairing_ring::OpenOptions::default();
    Ok((
        sairing_ring::Producer::open(&path, &opts)?,
        sairing_ring::Consumer::open(&path, &opts)?,
    ))
}

/// Cross-process latency and throughput measurements shared by `chanbench` and `compare`.
pub mod measure {
    use std::hint::spin_loop;
    use std::path::PathBuf;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, Instant};

    use anyhow::{bail, Context};
    use hdrhistogram::Histogram;
    use sairing_transport::{
        channel, codec, Body, Client, ClientOptions, Mode, Op, Server, ServerOptions, WaitPolicy,
    };

    /// Pins the calling thread to `cpu`.
    pub fn pin(cpu: usize) {
        // SAFETY: a zeroed cpu_set_t is empty; CPU_SET writes inside it; the call
        // only reads the set.
        unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
        }
    }

    /// CPUs online (not the affinity mask, which pinning narrows for children).
    pub fn cpus() -> usize {
        // SAFETY: sysconf has no preconditions.
        let n = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) };
        n.max(1) as usize
    }

    /// Spin `spin_us` microseconds (`u64::MAX`: forever) before sleeping.
    pub fn spin_policy(spin_us: u64) -> WaitPolicy {
        WaitPolicy {
            spin: if spin_us == u64::MAX {
                Duration::MAX
            } else {
                Duration::from_micros(spin_us)
            },
            timeout: Duration::from_secs(60),
            nonblocking: false,
        }
    }

    /// The server side of a sairing measurement: answers everything but sets.
    pub fn serve(dir: PathBuf, spin_us: u64) -> anyhow::Result<()> {
        if cpus() >= 2 {
            pin(1);
        }
        let mut server = Server::open(
            &dir,
            &ServerOptions {
                wait: spin_policy(spin_us),
                ..Default::default()
            },
        )?;
        println!("ready");
        loop {
            let Some(mut req) = server.recv(None)? else {
                continue;
            };
            // Sets are one-way traffic in the throughput run; everything else
            // (gets, flush) is answered.
            if req.request.op != Op::Set {
                req.respond_status("SAI_STATUS_SUCCESS")?;
            }
        }
    }

    /// The one attribute a measured request carries.
    pub const ATTRS: [(&str, &str); 1] =
        [("SAI_ROUTE_ENTRY_ATTR_NEXT_HOP_ID", "oid:0x40000000000a1")];

    /// A route-entry request of exactly `size` bytes (a multiple of 4, at least
    /// 64): its key, and how many of [`ATTRS`] it carries (requests too small
    /// for the attribute carry none).
    pub fn request_of(size: usize) -> anyhow::Result<(String, usize)> {
        let prefix = "SAI_OBJECT_TYPE_ROUTE_ENTRY:";
        for n in [1, 0] {
            let base = codec::request_len(prefix, &Body::Attrs(&ATTRS[..n]));
            if base <= size {
                let key = format!("{prefix}{}", "x".repeat(size - base));
                if codec::request_len(&key, &Body::Attrs(&ATTRS[..n])) == size {
                    return Ok((key, n));
                }
            }
        }
        bail!("no request of exactly {size} bytes")
    }

    /// The shape of a sairing measurement.
    #[derive(Clone, Copy, Debug)]
    pub struct Shape {
        /// Bytes per request.
        pub size: usize,
        /// Bytes of each ring's data area.
        pub capacity: u64,
    }

    impl Default for Shape {
        fn default() -> Self {
            Shape {
                size: 128,
                capacity: 1 << 24,
            }
        }
    }

    /// One channel's measurements.
    pub struct Stats {
        /// Its name.
        pub name: &'static str,
        /// Round trips, in nanoseconds.
        pub hist: Histogram<u64>,
        /// One-way messages per second, where measured.
        pub msgs_per_s: Option<f64>,
    }

    /// p50, p99, p99.9 and max of a histogram.
    pub fn percentiles(h: &Histogram<u64>) -> (u64, u64, u64, u64) {
        (
            h.value_at_quantile(0.5),
            h.value_at_quantile(0.99),
            h.value_at_quantile(0.999),
            h.max(),
        )
    }

    /// A sairing channel between this process and a server process (`exe serve`).
    pub fn sairing_mode(
        name: &'static str,
        spin_us: u64,
        samples: u64,
        messages: u64,
    ) -> anyhow::Result<Stats> {
        sairing_shaped(name, spin_us, samples, messages, Shape::default())
    }

    /// [`sairing_mode`] with requests of `shape.size` bytes over rings of
    /// `shape.capacity` bytes.
    pub fn sairing_shaped(
        name: &'static str,
        spin_us: u64,
        samples: u64,
        messages: u64,
        shape: Shape,
    ) -> anyhow::Result<Stats> {
        let tmp = tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir())?;
        let dir = tmp.path().join("chan");
        channel::create(
            &dir,
            &channel::ChannelOptions {
                capacity: shape.capacity,
                ..Default::default()
            },
        )?;
        let exe = std::env::current_exe()?;
        let mut child = std::process::Command::new(exe)
            .args([
                "serve",
                dir.to_str().context("utf-8 path")?,
                "--spin-us",
                &spin_us.to_string(),
            ])
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().context("stdout")?),
            &mut line,
        )?;
        if line.trim() != "ready" {
            bail!("server did not start: {line:?}");
        }
        let result = (|| {
            let mut c = Client::open(
                &dir,
                &ClientOptions {
                    mode: Mode::Sync,
                    wait: spin_policy(spin_us),
                },
            )?;
            let (key, n_attrs) = request_of(shape.size)?;
            let attrs = &ATTRS[..n_attrs];
            let body = Body::Attrs(attrs);
            let deadline = Instant::now() + Duration::from_secs(5);
            while !c.connected() {
                c.service()?;
                if Instant::now() > deadline {
                    bail!("client never connected");
                }
            }
            let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3)?;
            for i in 0..samples + samples / 10 {
                let t = Instant::now();
                let seq = c.send(Op::Get, &key, &body)?;
                let r = c.wait_for(seq, None)?;
                let ns = t.elapsed().as_nanos() as u64;
                if !r.is_success() {
                    bail!("bad response {r:?}");
                }
                if i >= samples / 10 {
                    hist.record(ns.max(1))?;
                }
            }
            // One-way throughput: sets are not answered; a flush at the end is.
            c.set_mode(Mode::Pipelined);
            let t = Instant::now();
            // In batches of 128, as the Redis channels pipeline theirs.
            let mut left = messages;
            while left > 0 {
                let n = left.min(128);
                c.send_batch((0..n).map(|_| (Op::Set, key.as_str(), Body::Attrs(attrs))))?;
                left -= n;
            }
            let seq = c.send::<&str>(Op::Flush, "flush", &Body::Attrs(&[]))?;
            c.wait_for(seq, None)?;
            let rate = messages as f64 / t.elapsed().as_secs_f64();
            Ok(Stats {
                name,
                hist,
                msgs_per_s: Some(rate),
            })
        })();
        let _ = child.kill();
        let _ = child.wait();
        result
    }

    /// Two processes ping-ponging one cache line of shared memory.
    pub fn floor_spin(samples: u64) -> anyhow::Result<Stats> {
        // SAFETY: a fresh anonymous shared mapping of one page; checked below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                4096,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            bail!("mmap failed");
        }
        // SAFETY: the page is zeroed, page-aligned and lives until the process
        // exits; AtomicU64 has the layout of u64.
        let (ping, pong) = unsafe {
            (
                &*(p as *const AtomicU64),
                &*((p as *const u8).add(128) as *const AtomicU64),
            )
        };
        let total = samples + samples / 10;
        // SAFETY: this process is single-threaded here; the child only spins on
        // atomics in shared memory and exits with _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            if cpus() >= 2 {
                pin(1);
            }
            for i in 1..=total {
                while ping.load(Ordering::Acquire) != i {
                    spin_loop();
                }
                pong.store(i, Ordering::Release);
            }
            // SAFETY: ends the forked child without running the parent's destructors.
            unsafe { libc::_exit(0) };
        }
        let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3)?;
        for i in 1..=total {
            let t = Instant::now();
            ping.store(i, Ordering::Release);
            while pong.load(Ordering::Acquire) != i {
                spin_loop();
            }
            if i > samples / 10 {
                hist.record((t.elapsed().as_nanos() as u64).max(1))?;
            }
        }
        // SAFETY: reaps our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        Ok(Stats {
            name: "floor-spin",
            hist,
            msgs_per_s: None,
        })
    }

    /// Two processes ping-ponging through a pair of blocking eventfds.
    pub fn floor_eventfd(samples: u64) -> anyhow::Result<Stats> {
        // SAFETY: eventfd has no memory preconditions; results are checked.
        let (a, b) = unsafe { (libc::eventfd(0, 0), libc::eventfd(0, 0)) };
        if a < 0 || b < 0 {
            bail!("eventfd failed");
        }
        let total = samples + samples / 10;
        let ring = |fd: i32| {
            let one = 1u64;
            // SAFETY: writes 8 bytes from a live u64.
            unsafe { libc::write(fd, (&one as *const u64).cast(), 8) };
        };
        let take = |fd: i32| {
            let mut v = 0u64;
            // SAFETY: reads 8 bytes into a live u64 (blocking until rung).
            unsafe { libc::read(fd, (&mut v as *mut u64).cast(), 8) };
        };
        // SAFETY: single-threaded here; the child only does read/write and _exit.
        let pid = unsafe { libc::fork() };
        if pid == 0 {
            if cpus() >= 2 {
                pin(1);
            }
            for _ in 0..total {
                take(a);
                ring(b);
            }
            // SAFETY: ends the forked child without running destructors.
            unsafe { libc::_exit(0) };
        }
        let mut hist = Histogram::<u64>::new_with_bounds(1, 10_000_000_000, 3)?;
        for i in 0..total {
            let t = Instant::now();
            ring(a);
            take(b);
            if i >= samples / 10 {
                hist.record((t.elapsed().as_nanos() as u64).max(1))?;
            }
        }
        // SAFETY: reaps our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        Ok(Stats {
            name: "floor-eventfd",
            hist,
            msgs_per_s: None,
        })
    }
}
