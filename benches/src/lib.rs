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

/// Two threads streaming records through the ring, or through rtrb, for the
/// same payloads in the same run (the criterion bench `ring` and `compare`'s
/// `ring` rows).
pub mod stream {
    use std::hint::black_box;
    use std::time::{Duration, Instant};

    use sairing_ring::{Consumer, Producer, PushError};

    /// Ring capacity for both.
    pub const CAPACITY: u64 = 1 << 20;

    /// Streams `n` records of `size` bytes from this thread to a consumer
    /// thread; returns the time. The producer stages records and publishes
    /// them 32 at a time (and whenever the ring is full), as a client's batch
    /// does; the consumer releases every 64 records read.
    pub fn sairing(tx: &mut Producer, rx: &mut Consumer, size: usize, n: u64) -> Duration {
        let payload = vec![7u8; size];
        std::thread::scope(|s| {
            let consumer = s.spawn(|| {
                let mut got = 0u64;
                let mut since_release = 0;
                while got < n {
                    match rx.read().unwrap() {
                        Some(rec) => {
                            black_box(rec.payload());
                            got += 1;
                            since_release += 1;
                            if since_release == 64 {
                                rx.release();
                                since_release = 0;
                            }
                        }
                        None => {
                            rx.release();
                            since_release = 0;
                            std::hint::spin_loop();
                        }
                    }
                }
                rx.release();
            });
            let start = Instant::now();
            let mut sent = 0;
            while sent < n {
                match tx.reserve(size, 1) {
                    Ok(mut r) => {
                        r.copy_from_slice(&payload);
                        r.stage();
                        sent += 1;
                        if sent % 32 == 0 {
                            tx.publish();
                        }
                    }
                    Err(PushError::Full { .. }) => {
                        tx.publish();
                        std::hint::spin_loop();
                    }
                    Err(e) => panic!("{e}"),
                }
            }
            tx.publish();
            consumer.join().unwrap();
            start.elapsed()
        })
    }

    /// [`sairing`] through rtrb, elements of `size` bytes (16, 128 or 1024).
    pub fn rtrb(size: usize, n: u64) -> Duration {
        match size {
            16 => rtrb_n::<16>(n),
            128 => rtrb_n::<128>(n),
            1024 => rtrb_n::<1024>(n),
            _ => panic!("rtrb streams 16, 128 or 1024 bytes, not {size}"),
        }
    }

    fn rtrb_n<const N: usize>(n: u64) -> Duration {
        let (mut p, mut q) = rtrb::RingBuffer::<[u8; N]>::new(CAPACITY as usize / N);
        let item = [7u8; N];
        std::thread::scope(|s| {
            let consumer = s.spawn(move || {
                let mut got = 0;
                while got < n {
                    match q.pop() {
                        Ok(v) => {
                            black_box(v);
                            got += 1;
                        }
                        Err(_) => std::hint::spin_loop(),
                    }
                }
            });
            let start = Instant::now();
            let mut sent = 0;
            while sent < n {
                if p.push(item).is_ok() {
                    sent += 1;
                } else {
                    std::hint::spin_loop();
                }
            }
            consumer.join().unwrap();
            start.elapsed()
        })
    }
}

/// Cross-process latency and throughput measurements shared by `chanbench` and `compare`.
pub mod measure {
    use std::ffi::OsStr;
    use std::hint::spin_loop;
    use std::io::{BufRead, BufReader};
    use std::path::PathBuf;
    use std::process::{Child, ChildStdout, Command, Stdio};
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

    /// Spin `spin_us` microseconds (`u64::MAX`: forever) before sleeping,
    /// every time (the spin does not adapt: what is measured is this policy).
    pub fn spin_policy(spin_us: u64) -> WaitPolicy {
        let spin = if spin_us == u64::MAX {
            Duration::MAX
        } else {
            Duration::from_micros(spin_us)
        };
        WaitPolicy {
            timeout: Duration::from_secs(60),
            ..WaitPolicy::fixed_spin(spin)
        }
    }

    /// The server side of a sairing measurement: answers everything but sets.
    pub fn serve(
        ServeArgs {
            dir,
            spin_us,
            answer_sets,
        }: ServeArgs,
    ) -> anyhow::Result<()> {
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
            // (gets, flush) is answered, and sets too when asked (as a C
            // server must: it answers in request order).
            if answer_sets || req.request.op != Op::Set {
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

    /// Round trips are recorded up to a minute (nanoseconds, 3 significant digits).
    pub fn histogram() -> Histogram<u64> {
        Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
    }

    /// The warm-up-then-record loop every round trip is measured with: calls
    /// `round_trip` `samples / 10` times unrecorded, then `samples` times
    /// recording how long each call took.
    pub fn round_trips(
        samples: u64,
        mut round_trip: impl FnMut() -> anyhow::Result<()>,
    ) -> anyhow::Result<Histogram<u64>> {
        let warm_up = samples / 10;
        let mut hist = histogram();
        for i in 0..samples + warm_up {
            let t = Instant::now();
            round_trip()?;
            if i >= warm_up {
                hist.record((t.elapsed().as_nanos() as u64).max(1))?;
            }
        }
        Ok(hist)
    }

    /// A channel under measurement, seen from its producer's side.
    pub trait Measured {
        /// Sends one answered request (a get) and waits for its answer.
        fn round_trip(&mut self) -> anyhow::Result<()>;

        /// Sends `messages` one-way requests (sets), then one answered request
        /// (a flush), and waits for that answer: by then the consumer has taken
        /// every set.
        fn one_way(&mut self, messages: u64) -> anyhow::Result<()>;
    }

    /// Measures `channel`: `samples` round trips after a warm-up (see
    /// [`round_trips`]), then the rate of `messages` one-way requests.
    pub fn run(
        name: &'static str,
        channel: &mut impl Measured,
        samples: u64,
        messages: u64,
    ) -> anyhow::Result<Stats> {
        let hist = round_trips(samples, || channel.round_trip())?;
        let t = Instant::now();
        channel.one_way(messages)?;
        Ok(Stats {
            name,
            hist,
            msgs_per_s: Some(messages as f64 / t.elapsed().as_secs_f64()),
        })
    }

    /// This binary re-executed with other arguments (a server, a consumer),
    /// killed and reaped when dropped. It has said `ready [WORDS]` on its
    /// stdout, which stays open for whatever it prints after.
    pub struct Reexec {
        child: Child,
        _stdout: BufReader<ChildStdout>,
        words: String,
    }

    impl Reexec {
        /// Starts this binary with `args` and waits for its `ready` line.
        pub fn start<S: AsRef<OsStr> + std::fmt::Debug>(args: &[S]) -> anyhow::Result<Reexec> {
            Reexec::program(&std::env::current_exe()?, args)
        }

        /// [`Reexec::start`] for another program (a C server, say).
        pub fn program<S: AsRef<OsStr> + std::fmt::Debug>(
            exe: &std::path::Path,
            args: &[S],
        ) -> anyhow::Result<Reexec> {
            let mut child = Command::new(exe)
                .args(args)
                .stdout(Stdio::piped())
                .spawn()
                .context("starting the server process")?;
            let mut stdout = BufReader::new(child.stdout.take().context("server stdout")?);
            let mut line = String::new();
            stdout.read_line(&mut line)?;
            match line.trim().strip_prefix("ready") {
                Some(words) => Ok(Reexec {
                    child,
                    _stdout: stdout,
                    words: words.trim().to_owned(),
                }),
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    bail!("server {args:?} did not start: {line:?}")
                }
            }
        }

        /// What followed `ready` on its first line (a port, say).
        pub fn words(&self) -> &str {
            &self.words
        }

        /// Kills it with SIGKILL and reaps it.
        pub fn kill(&mut self) -> std::io::Result<()> {
            self.child.kill()?;
            self.child.wait()?;
            Ok(())
        }
    }

    impl Drop for Reexec {
        fn drop(&mut self) {
            let _ = self.kill();
        }
    }

    /// The `serve` subcommand that [`sairing_mode`] re-executes its binary
    /// with: every binary that measures sairing has it.
    #[derive(clap::Args)]
    pub struct ServeArgs {
        /// The channel's directory.
        pub dir: PathBuf,
        /// Spin this many microseconds before sleeping (u64::MAX: busy-poll).
        #[arg(long)]
        pub spin_us: u64,
        /// Answer sets too (the one-way traffic is otherwise not answered).
        #[arg(long)]
        pub answer_sets: bool,
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

    /// A new channel with rings of `capacity` bytes in a scratch folder (in
    /// /dev/shm when there is one), removed when the folder is dropped.
    fn scratch_channel(capacity: u64) -> anyhow::Result<(tempfile::TempDir, PathBuf)> {
        let tmp = tempfile::tempdir_in("/dev/shm").or_else(|_| tempfile::tempdir())?;
        let dir = tmp.path().join("chan");
        channel::create(
            &dir,
            &channel::ChannelOptions {
                capacity,
                ..Default::default()
            },
        )?;
        Ok((tmp, dir))
    }

    /// The client side of a sairing measurement.
    struct SairingClient {
        client: Client,
        key: String,
        attrs: &'static [(&'static str, &'static str)],
        /// The server answers sets: take their answers after each batch.
        answered: bool,
    }

    impl Measured for SairingClient {
        fn round_trip(&mut self) -> anyhow::Result<()> {
            let seq = self
                .client
                .send(Op::Get, &self.key, &Body::Attrs(self.attrs))?;
            let r = self.client.wait_for(seq, None)?;
            if !r.is_success() {
                bail!("bad response {r:?}");
            }
            Ok(())
        }

        fn one_way(&mut self, messages: u64) -> anyhow::Result<()> {
            // Sets are not answered; the flush at the end is.
            self.client.set_mode(Mode::Pipelined);
            // In batches of 128, as the Redis channels pipeline theirs.
            let mut left = messages;
            while left > 0 {
                let n = left.min(128);
                self.client.send_batch(
                    (0..n).map(|_| (Op::Set, self.key.as_str(), Body::Attrs(self.attrs))),
                )?;
                left -= n;
                if self.answered {
                    while self.client.next_completion(Some(Duration::ZERO))?.is_some() {}
                }
            }
            let seq = self.client.send(Op::Flush, "flush", &Body::EMPTY)?;
            self.client.wait_for(seq, None)?;
            Ok(())
        }
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
        sairing_against(name, spin_us, samples, messages, shape, Peer::Rust)
    }

    /// The server end of a sairing measurement.
    #[derive(Clone, Copy, Debug)]
    pub enum Peer<'a> {
        /// This binary's `serve`: sets not answered.
        Rust,
        /// This binary's `serve --answer-sets`.
        RustAnswering,
        /// `cbench serve` (capi/bench/cbench.c), which answers every request.
        C(&'a std::path::Path),
    }

    /// A sairing channel: this process's Rust client against `peer`.
    pub fn sairing_against(
        name: &'static str,
        spin_us: u64,
        samples: u64,
        messages: u64,
        shape: Shape,
        peer: Peer<'_>,
    ) -> anyhow::Result<Stats> {
        let (_tmp, dir) = scratch_channel(shape.capacity)?;
        let spin = spin_us.to_string();
        let d = dir.to_str().context("utf-8 path")?;
        let _server = match peer {
            Peer::Rust => Reexec::start(&["serve", d, "--spin-us", &spin])?,
            Peer::RustAnswering => {
                Reexec::start(&["serve", d, "--spin-us", &spin, "--answer-sets"])?
            }
            Peer::C(exe) => Reexec::program(exe, &["serve", d, &spin])?,
        };
        let mut client = Client::open(
            &dir,
            &ClientOptions {
                mode: Mode::Sync,
                wait: spin_policy(spin_us),
            },
        )?;
        let (key, n_attrs) = request_of(shape.size)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        while !client.connected() {
            client.service()?;
            if Instant::now() > deadline {
                bail!("client never connected");
            }
        }
        let mut sairing = SairingClient {
            client,
            key,
            attrs: &ATTRS[..n_attrs],
            answered: !matches!(peer, Peer::Rust),
        };
        run(name, &mut sairing, samples, messages)
    }

    /// `cbench client` (capi/bench/cbench.c, the C API from C) against this
    /// binary's Rust server (sets not answered), measured as
    /// [`sairing_mode`] measures the Rust client: the same requests, warm-up,
    /// batches and flush. The C program times its own round trips.
    pub fn c_client(
        name: &'static str,
        exe: &std::path::Path,
        spin_us: u64,
        samples: u64,
        messages: u64,
    ) -> anyhow::Result<Stats> {
        let (_tmp, dir) = scratch_channel(Shape::default().capacity)?;
        let spin = spin_us.to_string();
        let d = dir.to_str().context("utf-8 path")?;
        let _server = Reexec::start(&["serve", d, "--spin-us", &spin])?;
        let (key, n_attrs) = request_of(Shape::default().size)?;
        if n_attrs != 1 {
            bail!("the measured request carries one attribute");
        }
        let out = Command::new(exe)
            .args([
                "client",
                d,
                &spin,
                &samples.to_string(),
                &messages.to_string(),
            ])
            .args([key.as_str(), ATTRS[0].0, ATTRS[0].1])
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("running {}", exe.display()))?;
        if !out.status.success() {
            bail!("{} client: {}", exe.display(), out.status);
        }
        let text = String::from_utf8(out.stdout)?;
        let mut lines = text.lines();
        if lines.next() != Some("rtt_ns") {
            bail!("cbench client printed {text:?}");
        }
        let mut hist = histogram();
        let mut msgs_per_s = None;
        for l in lines {
            match l.strip_prefix("one_way_per_s ") {
                Some(r) => msgs_per_s = Some(r.parse::<f64>()?),
                None => hist.record(l.parse::<u64>()?.max(1))?,
            }
        }
        if hist.len() != samples || msgs_per_s.is_none() {
            bail!("cbench client: {} samples, rate {msgs_per_s:?}", hist.len());
        }
        Ok(Stats {
            name,
            hist,
            msgs_per_s,
        })
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
        let mut i = 0;
        let hist = round_trips(samples, || {
            i += 1;
            ping.store(i, Ordering::Release);
            while pong.load(Ordering::Acquire) != i {
                spin_loop();
            }
            Ok(())
        })?;
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
        let hist = round_trips(samples, || {
            ring(a);
            take(b);
            Ok(())
        })?;
        // SAFETY: reaps our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        Ok(Stats {
            name: "floor-eventfd",
            hist,
            msgs_per_s: None,
        })
    }
}
