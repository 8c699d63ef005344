//! The gRPC rows: tonic over TCP loopback, unary (one call per request) and
//! bidirectional streaming (one stream each way; sets are not answered).
//!
//! Each side runs a single-threaded tokio runtime on its own pinned core, the
//! setting that gives tonic its lowest round trip. The request is the same
//! 128 bytes as every other channel's, carried as a `bytes` field.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use sairing_benches::measure::{self, Measured, Reexec, Stats};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_stream::{Stream, StreamExt};
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status, Streaming};

use crate::harness::{message, FLUSH, GET, SET};
use crate::restart::{self, AppliedLog};

/// The code protoc generates from proto/sai.proto (build.rs).
pub mod pb {
    tonic::include_proto!("sairing.bench");
}
use pb::sai_client::SaiClient;
use pb::sai_server::{Sai, SaiServer};
use pb::{SaiReply, SaiRequest};

fn success() -> SaiReply {
    SaiReply {
        status: "SAI_STATUS_SUCCESS".into(),
    }
}

/// The server. With a log, it is the restart matrix's consumer: it applies a
/// request by appending its number to the log before answering.
struct Service {
    log: Option<Arc<Mutex<AppliedLog>>>,
}

fn apply_to(log: &Option<Arc<Mutex<AppliedLog>>>, n: u64) -> Result<(), Status> {
    if let Some(log) = log {
        let mut log = log.lock().map_err(|_| Status::internal("log lock"))?;
        log.apply(&[n])
            .map_err(|e| Status::internal(e.to_string()))?;
    }
    Ok(())
}

type Replies = Pin<Box<dyn Stream<Item = Result<SaiReply, Status>> + Send>>;

#[tonic::async_trait]
impl Sai for Service {
    async fn call(&self, req: Request<SaiRequest>) -> Result<Response<SaiReply>, Status> {
        apply_to(&self.log, req.into_inner().n)?;
        Ok(Response::new(success()))
    }

    type StreamStream = Replies;

    async fn stream(
        &self,
        req: Request<Streaming<SaiRequest>>,
    ) -> Result<Response<Replies>, Status> {
        let mut inbound = req.into_inner();
        let (tx, rx) = mpsc::channel(1024);
        let log = self.log.clone();
        tokio::spawn(async move {
            while let Some(Ok(m)) = inbound.next().await {
                if apply_to(&log, m.n).is_err() {
                    break;
                }
                if m.body.first() != Some(&SET) && tx.send(Ok(success())).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

fn runtime() -> anyhow::Result<Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Serves on `addr` ("127.0.0.1:0" picks a port) and prints `ready PORT`:
/// the latency rows' server (`serve-grpc`), or with a log the restart
/// matrix's consumer.
pub fn serve(addr: &str, log: Option<AppliedLog>) -> anyhow::Result<()> {
    let log = match log {
        Some(log) => Some(Arc::new(Mutex::new(log))),
        None => {
            measure::pin(1);
            None
        }
    };
    runtime()?.block_on(async {
        let l = tokio::net::TcpListener::bind(addr).await?;
        println!("ready {}", l.local_addr()?.port());
        let incoming = TcpListenerStream::new(l).map(|s| {
            let s = s?;
            s.set_nodelay(true)?;
            Ok::<_, std::io::Error>(s)
        });
        tonic::transport::Server::builder()
            .add_service(SaiServer::new(Service { log }))
            .serve_with_incoming(incoming)
            .await?;
        Ok(())
    })
}

async fn connect(port: u16) -> anyhow::Result<SaiClient<Channel>> {
    let ch = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .tcp_nodelay(true)
        .connect()
        .await
        .context("connecting to the gRPC server")?;
    Ok(SaiClient::new(ch))
}

fn request(op: u8, n: u64) -> SaiRequest {
    SaiRequest {
        body: message(op),
        n,
    }
}

/// Unary calls in flight at once in the one-way run, over the one HTTP/2
/// connection (unary has no one-way call: each set waits for its answer).
const UNARY_IN_FLIGHT: usize = 64;

/// The `grpc-unary` row's client: one call per request.
struct Unary<'a> {
    rt: &'a Runtime,
    client: &'a mut SaiClient<Channel>,
    get: SaiRequest,
}

impl Measured for Unary<'_> {
    fn round_trip(&mut self) -> anyhow::Result<()> {
        self.rt.block_on(self.client.call(self.get.clone()))?;
        Ok(())
    }

    /// Unary has no one-way call: each set waits for its answer, with
    /// [`UNARY_IN_FLIGHT`] of them in flight.
    fn one_way(&mut self, messages: u64) -> anyhow::Result<()> {
        let rt = self.rt;
        rt.block_on(async {
            let mut calls = tokio::task::JoinSet::new();
            let set = request(SET, 0);
            for _ in 0..messages {
                if calls.len() >= UNARY_IN_FLIGHT {
                    calls.join_next().await.context("a call")???;
                }
                let mut c = self.client.clone();
                let set = set.clone();
                calls.spawn(async move { c.call(set).await });
            }
            while let Some(r) = calls.join_next().await {
                r??;
            }
            Ok(())
        })
    }
}

/// The `grpc-stream` row's client: gets are answered on the reply stream.
struct Bidirectional<'a> {
    rt: &'a Runtime,
    requests: mpsc::Sender<SaiRequest>,
    replies: Streaming<SaiReply>,
    get: SaiRequest,
}

impl Measured for Bidirectional<'_> {
    fn round_trip(&mut self) -> anyhow::Result<()> {
        let rt = self.rt;
        rt.block_on(async {
            self.requests.send(self.get.clone()).await?;
            self.replies
                .message()
                .await?
                .context("reply stream ended")?;
            Ok(())
        })
    }

    fn one_way(&mut self, messages: u64) -> anyhow::Result<()> {
        let rt = self.rt;
        rt.block_on(async {
            let set = request(SET, 0);
            for _ in 0..messages {
                self.requests.send(set.clone()).await?;
            }
            self.requests.send(request(FLUSH, 0)).await?;
            self.replies
                .message()
                .await?
                .context("reply stream ended")?;
            Ok(())
        })
    }
}

/// Both gRPC rows against one server process, over one connection.
pub fn measure(samples: u64, messages: u64) -> anyhow::Result<(Stats, Stats)> {
    let server = Reexec::start(&["serve-grpc"])?;
    let port: u16 = server.words().parse().context("the gRPC server's port")?;
    let rt = runtime()?;
    let mut client = rt.block_on(connect(port))?;
    let get = request(GET, 0);
    let unary = measure::run(
        "grpc-unary",
        &mut Unary {
            rt: &rt,
            client: &mut client,
            get: get.clone(),
        },
        samples,
        messages,
    )?;
    let (requests, rx) = mpsc::channel(1024);
    let replies = rt
        .block_on(client.stream(ReceiverStream::new(rx)))?
        .into_inner();
    let stream = measure::run(
        "grpc-stream",
        &mut Bidirectional {
            rt: &rt,
            requests,
            replies,
            get,
        },
        samples,
        messages,
    )?;
    Ok((unary, stream))
}

/// An address for the restart matrix's consumer and every restart of it; the
/// listener sets SO_REUSEADDR, so the killed one's connections do not block it.
pub fn restart_target() -> anyhow::Result<String> {
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    Ok(format!("127.0.0.1:{port}"))
}

/// A runtime with one worker thread, so HTTP/2 keeps moving while the
/// producer's thread blocks, and a client connected to `target`.
fn producer_client(target: &str) -> anyhow::Result<(Runtime, SaiClient<Channel>)> {
    let port = target
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .context("port")?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let client = rt.block_on(connect(port))?;
    Ok((rt, client))
}

/// The restart matrix's unary producer. A call that fails (the server died,
/// or the channel is reconnecting) is not retried: the producer goes on with
/// the next number, as a client with no retry policy does.
pub struct UnaryProducer {
    client: SaiClient<Channel>,
    rt: Runtime,
}

impl UnaryProducer {
    /// Connects to the consumer at `target`.
    pub fn open(target: &str) -> anyhow::Result<UnaryProducer> {
        let (rt, client) = producer_client(target)?;
        Ok(UnaryProducer { client, rt })
    }
}

impl restart::Producer for UnaryProducer {
    fn send(&mut self, n: u64) -> anyhow::Result<()> {
        let mut c = self.client.clone();
        let _ = self.rt.block_on(c.call(request(SET, n)));
        Ok(())
    }
}

/// The restart matrix's streaming producer. When the stream breaks, it opens
/// a new one and goes on; what the old one had taken is not known to it.
pub struct StreamProducer {
    client: SaiClient<Channel>,
    requests: Option<mpsc::Sender<SaiRequest>>,
    /// Set when the stream's replies end.
    broken: Arc<AtomicBool>,
    rt: Runtime,
}

impl StreamProducer {
    /// Connects to the consumer at `target` and opens a stream.
    pub fn open(target: &str) -> anyhow::Result<StreamProducer> {
        let (rt, client) = producer_client(target)?;
        let mut p = StreamProducer {
            client,
            requests: None,
            broken: Arc::new(AtomicBool::new(false)),
            rt,
        };
        p.open_stream();
        Ok(p)
    }

    fn open_stream(&mut self) {
        let (tx, rx) = mpsc::channel::<SaiRequest>(1024);
        let broken = Arc::new(AtomicBool::new(false));
        let (mut c, b) = (self.client.clone(), broken.clone());
        self.rt.spawn(async move {
            if let Ok(r) = c.stream(ReceiverStream::new(rx)).await {
                let mut replies = r.into_inner();
                while let Ok(Some(_)) = replies.message().await {}
            }
            b.store(true, Ordering::Release);
        });
        self.requests = Some(tx);
        self.broken = broken;
    }
}

impl restart::Producer for StreamProducer {
    fn send(&mut self, n: u64) -> anyhow::Result<()> {
        loop {
            if self.broken.load(Ordering::Acquire) {
                self.open_stream();
            }
            let requests = self.requests.as_ref().context("an open stream")?;
            // A refused send was never taken: it goes on the next stream.
            if requests.blocking_send(request(SET, n)).is_ok() {
                return Ok(());
            }
            self.open_stream();
        }
    }

    /// Closing the request stream lets the server finish it; the reply stream
    /// then ends, which marks it broken. Waits for that (10 s at most) before
    /// the runtime goes.
    fn finish(&mut self, between: &mut dyn FnMut() -> anyhow::Result<()>) -> anyhow::Result<()> {
        self.requests = None;
        let deadline = Instant::now() + std::time::Duration::from_secs(10);
        while !self.broken.load(Ordering::Acquire) && Instant::now() < deadline {
            between()?;
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        Ok(())
    }
}
