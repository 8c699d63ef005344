//! The gRPC rows: tonic over TCP loopback, unary (one call per request) and
//! bidirectional streaming (one stream each way; sets are not answered).
//!
//! Each side runs a single-threaded tokio runtime on its own pinned core, the
//! setting that gives tonic its lowest round trip. The request is the same
//! 128 bytes as every other channel's, carried as a `bytes` field.

use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::Context;
use sairing_benches::measure::{self, Stats};
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tokio_stream::{Stream, StreamExt};
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status, Streaming};

use super::{hist, log_applied, message, spawn_self_ready, stop, FLUSH, GET, SET};

/// The code protoc generates from proto/sai.proto (build.rs).
#[allow(clippy::all)]
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
    log: Option<Arc<Mutex<std::fs::File>>>,
}

fn apply_to(log: &Option<Arc<Mutex<std::fs::File>>>, n: u64) -> Result<(), Status> {
    if let Some(log) = log {
        let mut f = log.lock().map_err(|_| Status::internal("log lock"))?;
        log_applied(&mut f, &[n]).map_err(|e| Status::internal(e.to_string()))?;
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

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Serves on `addr` ("127.0.0.1:0" picks a port) and prints `ready PORT`.
pub fn serve(addr: &str, log: Option<&Path>) -> anyhow::Result<()> {
    let log = match log {
        Some(p) => Some(Arc::new(Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)?,
        ))),
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

/// Both gRPC rows against one server process.
pub fn measure(samples: u64, messages: u64) -> anyhow::Result<(Stats, Stats)> {
    let (child, _out, port) = spawn_self_ready(&["serve-grpc"])?;
    let port: u16 = port.parse().context("the gRPC server's port")?;
    let r = runtime()?.block_on(async {
        let mut c = connect(port).await?;
        let warm = samples / 10;

        // Unary: one call per get.
        let get = request(GET, 0);
        let mut h = hist();
        for i in 0..samples + warm {
            let t = Instant::now();
            c.call(get.clone()).await?;
            if i >= warm {
                h.record((t.elapsed().as_nanos() as u64).max(1))?;
            }
        }
        let t = Instant::now();
        let mut calls = tokio::task::JoinSet::new();
        let set = request(SET, 0);
        for _ in 0..messages {
            if calls.len() >= UNARY_IN_FLIGHT {
                calls.join_next().await.context("a call")???;
            }
            let mut c = c.clone();
            let set = set.clone();
            calls.spawn(async move { c.call(set).await });
        }
        while let Some(r) = calls.join_next().await {
            r??;
        }
        let unary = Stats {
            name: "grpc-unary",
            hist: h,
            msgs_per_s: Some(messages as f64 / t.elapsed().as_secs_f64()),
        };

        // Bidirectional streaming: gets are answered on the reply stream.
        let (tx, rx) = mpsc::channel(1024);
        let mut replies = c.stream(ReceiverStream::new(rx)).await?.into_inner();
        let mut h = hist();
        for i in 0..samples + warm {
            let t = Instant::now();
            tx.send(get.clone()).await?;
            replies.message().await?.context("reply stream ended")?;
            if i >= warm {
                h.record((t.elapsed().as_nanos() as u64).max(1))?;
            }
        }
        let t = Instant::now();
        for _ in 0..messages {
            tx.send(set.clone()).await?;
        }
        tx.send(request(FLUSH, 0)).await?;
        replies.message().await?.context("reply stream ended")?;
        let stream = Stats {
            name: "grpc-stream",
            hist: h,
            msgs_per_s: Some(messages as f64 / t.elapsed().as_secs_f64()),
        };
        anyhow::Ok((unary, stream))
    });
    stop(child);
    r
}

/// The restart matrix's gRPC producer: sends 1..=total, counting them in
/// `sent`, and calls `between` after each (it kills and restarts the consumer
/// when due).
///
/// Unary: a call that fails (the server died, or the channel is reconnecting)
/// is reported to the caller, which goes on with the next number, as a client
/// with no retry policy does. Streaming: when the stream breaks, the client
/// opens a new one and goes on; what the old one had taken is not known to it.
pub fn produce(
    streaming: bool,
    port: u16,
    total: u64,
    sent: &std::cell::Cell<u64>,
    mut between: impl FnMut() -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    // One worker thread, so HTTP/2 keeps moving while this thread blocks.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let c = rt.block_on(connect(port))?;
    if !streaming {
        for n in 1..=total {
            let mut c = c.clone();
            let _ = rt.block_on(c.call(request(SET, n)));
            sent.set(sent.get() + 1);
            between()?;
        }
        return Ok(());
    }
    let open = || {
        let (tx, rx) = mpsc::channel::<SaiRequest>(1024);
        let broken = Arc::new(AtomicBool::new(false));
        let (mut c, b) = (c.clone(), broken.clone());
        rt.spawn(async move {
            if let Ok(r) = c.stream(ReceiverStream::new(rx)).await {
                let mut replies = r.into_inner();
                while let Ok(Some(_)) = replies.message().await {}
            }
            b.store(true, Ordering::Release);
        });
        (tx, broken)
    };
    let (mut tx, mut broken) = open();
    for n in 1..=total {
        sent.set(sent.get() + 1);
        loop {
            if broken.load(Ordering::Acquire) {
                (tx, broken) = open();
            }
            // A refused send was never taken: it goes on the next stream.
            if tx.blocking_send(request(SET, n)).is_ok() {
                break;
            }
            (tx, broken) = open();
        }
        between()?;
    }
    // Closing the request stream lets the server finish it; the reply stream
    // then ends, which marks it broken. Wait for that before the runtime goes.
    drop(tx);
    let deadline = Instant::now() + std::time::Duration::from_secs(10);
    while !broken.load(Ordering::Acquire) && Instant::now() < deadline {
        between()?;
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Ok(())
}
