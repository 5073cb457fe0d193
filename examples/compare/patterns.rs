//! The strategies and workloads that `compare` measures, shared with the criterion benches.
//!
//! Strategies run one future to completion for a synchronous caller: loopbridge persistent
//! and per-call on three runtimes, and three reference patterns written here. Workloads are
//! the futures, in a smol and a tokio flavour; a [`Session`] keeps a caller's connection
//! between calls where the strategy lets it survive.

#![allow(dead_code)]

use std::{
    future::Future,
    io,
    net::{SocketAddr, TcpStream},
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
        mpsc,
    },
    task::{Context, Poll},
    thread::{self, JoinHandle},
    time::Duration,
};

use async_io::Async;
use futures_lite::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use loopbridge::{Bridge, Drive, SmolRuntime};
use loopbridge_tokio::TokioRuntime;

/// The floor of any handoff: two running threads passing a counter back and forth through
/// atomics, spinning on both sides. A bridge round trip is measured against it.
pub struct SpinFloor {
    ping: Arc<AtomicU64>,
    pong: Arc<AtomicU64>,
    echo: Option<JoinHandle<()>>,
}

impl SpinFloor {
    /// Starts the echoing thread; it spins until the floor is dropped.
    pub fn start() -> SpinFloor {
        let (ping, pong) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let (their_ping, their_pong) = (ping.clone(), pong.clone());
        let echo = thread::Builder::new()
            .name("ref-spin-floor".into())
            .spawn(move || {
                loop {
                    let seen = their_ping.load(Ordering::Acquire);
                    if seen == u64::MAX {
                        return;
                    }
                    if seen != their_pong.load(Ordering::Relaxed) {
                        their_pong.store(seen, Ordering::Release);
                    }
                    std::hint::spin_loop();
                }
            })
            .expect("spin-floor thread");
        SpinFloor {
            ping,
            pong,
            echo: Some(echo),
        }
    }

    /// One round trip: a counter there, and its echo back.
    pub fn round_trip(&self) {
        let n = self.ping.load(Ordering::Relaxed) + 1;
        self.ping.store(n, Ordering::Release);
        while self.pong.load(Ordering::Acquire) != n {
            std::hint::spin_loop();
        }
    }
}

impl Drop for SpinFloor {
    fn drop(&mut self) {
        self.ping.store(u64::MAX, Ordering::Release);
        if let Some(echo) = self.echo.take() {
            let _ = echo.join();
        }
    }
}

/// The bytes of one echo round trip.
pub const PAYLOAD: [u8; 64] = [7; 64];

/// Which runtime's futures a strategy runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Smol,
    Tokio,
}

/// How a synchronous caller gets a future run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    BridgeSmol,
    BridgeTokioCurrent,
    BridgeTokioMulti,
    PerCallSmol,
    PerCallTokioCurrent,
    PerCallTokioMulti,
    /// A tokio current_thread runtime per caller thread, `block_on` on the caller's thread.
    Inline,
    /// A std channel ping-pong to one persistent thread that runs `async_io::block_on`.
    Handoff,
    /// reqwest::blocking's design: a tokio current_thread runtime on its own thread, fed by an
    /// mpsc channel, replying on oneshots.
    Reqwest,
    /// A bridge attached (`from_handle`) to an application's multi_thread runtime of
    /// [`TOKIO_WORKERS`] workers. Measured in the fast path only, not in the table's cells.
    BridgeTokioAttached,
    /// The loopbridge bridges again, with `Drive::Caller`: the caller's thread polls.
    CallerSmol,
    CallerTokioCurrent,
    CallerTokioMulti,
    /// `Drive::Caller` on a bridge attached to an application runtime (fast path only).
    CallerTokioAttached,
    /// What most libraries with a blocking API do: a tokio multi_thread runtime of
    /// [`TOKIO_WORKERS`] workers in a static, and `RUNTIME.block_on(fut)` on the caller's
    /// thread.
    StaticBlockOn,
}

impl Kind {
    pub const ALL: [Kind; 13] = [
        Kind::BridgeSmol,
        Kind::BridgeTokioCurrent,
        Kind::BridgeTokioMulti,
        Kind::CallerSmol,
        Kind::CallerTokioCurrent,
        Kind::CallerTokioMulti,
        Kind::StaticBlockOn,
        Kind::PerCallSmol,
        Kind::PerCallTokioCurrent,
        Kind::PerCallTokioMulti,
        Kind::Inline,
        Kind::Handoff,
        Kind::Reqwest,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::BridgeSmol => "loopbridge smol",
            Kind::BridgeTokioCurrent => "loopbridge tokio-ct",
            Kind::BridgeTokioMulti => "loopbridge tokio-mt",
            Kind::PerCallSmol => "per-call smol",
            Kind::PerCallTokioCurrent => "per-call tokio-ct",
            Kind::PerCallTokioMulti => "per-call tokio-mt",
            Kind::Inline => "block_on inline",
            Kind::Handoff => "raw thread handoff",
            Kind::Reqwest => "reqwest::blocking pattern",
            Kind::BridgeTokioAttached => "loopbridge tokio-attached",
            Kind::CallerSmol => "caller-driven smol",
            Kind::CallerTokioCurrent => "caller-driven tokio-ct",
            Kind::CallerTokioMulti => "caller-driven tokio-mt",
            Kind::CallerTokioAttached => "caller-driven tokio-attached",
            Kind::StaticBlockOn => "static runtime block_on",
        }
    }

    pub fn flavor(self) -> Flavor {
        match self {
            Kind::BridgeSmol | Kind::CallerSmol | Kind::PerCallSmol | Kind::Handoff => Flavor::Smol,
            _ => Flavor::Tokio,
        }
    }

    /// Whether a connection made by one call can serve the next.
    pub fn keeps_connections(self) -> bool {
        !matches!(
            self,
            Kind::PerCallSmol | Kind::PerCallTokioCurrent | Kind::PerCallTokioMulti
        )
    }
}

/// A running strategy.
pub enum Strategy {
    Bridge(Bridge),
    /// A bridge attached to an application runtime, which it keeps alive.
    Attached(Bridge, tokio::runtime::Runtime),
    Inline,
    StaticBlockOn,
    Handoff(Handoff),
    Reqwest(Reqwest),
}

/// Worker threads of the multi-thread tokio strategies.
pub const TOKIO_WORKERS: usize = 2;

impl Strategy {
    pub fn start(kind: Kind) -> Strategy {
        match kind {
            Kind::BridgeSmol => Strategy::Bridge(Bridge::new()),
            Kind::BridgeTokioCurrent => {
                Strategy::Bridge(Bridge::with_runtime(TokioRuntime::current_thread))
            }
            Kind::BridgeTokioMulti => Strategy::Bridge(Bridge::with_runtime(|| {
                TokioRuntime::multi_thread(TOKIO_WORKERS)
            })),
            Kind::PerCallSmol => Strategy::Bridge(Bridge::per_call(SmolRuntime::start)),
            Kind::PerCallTokioCurrent => {
                Strategy::Bridge(Bridge::per_call(TokioRuntime::current_thread))
            }
            Kind::PerCallTokioMulti => Strategy::Bridge(Bridge::per_call(|| {
                TokioRuntime::multi_thread(TOKIO_WORKERS)
            })),
            Kind::Inline => Strategy::Inline,
            Kind::Handoff => Strategy::Handoff(Handoff::start()),
            Kind::Reqwest => Strategy::Reqwest(Reqwest::start()),
            Kind::BridgeTokioAttached | Kind::CallerTokioAttached => {
                let app = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(TOKIO_WORKERS)
                    .thread_name("app-worker")
                    .enable_all()
                    .build()
                    .expect("application runtime");
                let handle = app.handle().clone();
                let bridge = Bridge::builder()
                    .runtime(move || TokioRuntime::from_handle(handle.clone()))
                    .drive(kind.drive())
                    .build();
                Strategy::Attached(bridge, app)
            }
            Kind::CallerSmol => Strategy::Bridge(Bridge::builder().drive(Drive::Caller).build()),
            Kind::CallerTokioCurrent => Strategy::Bridge(
                Bridge::builder()
                    .runtime(TokioRuntime::current_thread)
                    .drive(Drive::Caller)
                    .build(),
            ),
            Kind::CallerTokioMulti => Strategy::Bridge(
                Bridge::builder()
                    .runtime(|| TokioRuntime::multi_thread(TOKIO_WORKERS))
                    .drive(Drive::Caller)
                    .build(),
            ),
            Kind::StaticBlockOn => {
                std::sync::LazyLock::force(&STATIC_RUNTIME);
                Strategy::StaticBlockOn
            }
        }
    }

    /// Runs `future` to completion for the calling thread.
    pub fn run<T, F>(&self, future: F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        match self {
            Strategy::Bridge(bridge) | Strategy::Attached(bridge, _) => {
                bridge.call(future).expect("bridge call")
            }
            Strategy::Inline => INLINE.with(|runtime| runtime.block_on(future)),
            Strategy::StaticBlockOn => STATIC_RUNTIME.block_on(future),
            Strategy::Handoff(handoff) => handoff.run(future),
            Strategy::Reqwest(reqwest) => reqwest.run(future),
        }
    }

    pub fn stop(self) {
        match self {
            Strategy::Bridge(bridge) => {
                bridge.shutdown();
            }
            Strategy::Attached(bridge, app) => {
                bridge.shutdown();
                app.shutdown_background();
            }
            Strategy::Inline | Strategy::StaticBlockOn => {}
            Strategy::Handoff(handoff) => handoff.stop(),
            Strategy::Reqwest(reqwest) => reqwest.stop(),
        }
    }
}

impl Kind {
    /// How a loopbridge strategy drives its blocking calls.
    pub fn drive(self) -> Drive {
        match self {
            Kind::CallerSmol
            | Kind::CallerTokioCurrent
            | Kind::CallerTokioMulti
            | Kind::CallerTokioAttached => Drive::Caller,
            _ => Drive::Runtime,
        }
    }
}

/// The static runtime of [`Kind::StaticBlockOn`], as libraries keep one: built on first use,
/// never dropped.
static STATIC_RUNTIME: std::sync::LazyLock<tokio::runtime::Runtime> =
    std::sync::LazyLock::new(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(TOKIO_WORKERS)
            .thread_name("ref-static-rt")
            .enable_all()
            .build()
            .expect("static runtime")
    });

thread_local! {
    static INLINE: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("inline runtime");
}

type Chore = Box<dyn FnOnce() + Send>;

/// One persistent thread, fed over a std channel; each job runs under `async_io::block_on`.
pub struct Handoff {
    jobs: mpsc::Sender<Chore>,
    thread: JoinHandle<()>,
}

impl Handoff {
    fn start() -> Handoff {
        let (jobs, incoming) = mpsc::channel::<Chore>();
        let thread = thread::Builder::new()
            .name("ref-handoff".into())
            .spawn(move || {
                for job in incoming {
                    job();
                }
            })
            .expect("handoff thread");
        Handoff { jobs, thread }
    }

    fn run<T, F>(&self, future: F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, result) = mpsc::sync_channel(1);
        self.jobs
            .send(Box::new(move || {
                let _ = reply.send(async_io::block_on(future));
            }))
            .expect("handoff thread alive");
        result.recv().expect("handoff reply")
    }

    fn stop(self) {
        drop(self.jobs);
        let _ = self.thread.join();
    }
}

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// reqwest::blocking's design, for any future.
pub struct Reqwest {
    jobs: tokio::sync::mpsc::UnboundedSender<Task>,
    thread: JoinHandle<()>,
}

impl Reqwest {
    fn start() -> Reqwest {
        let (jobs, mut incoming) = tokio::sync::mpsc::unbounded_channel::<Task>();
        let thread = thread::Builder::new()
            .name("ref-reqwest".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("reqwest-pattern runtime");
                runtime.block_on(async move {
                    while let Some(job) = incoming.recv().await {
                        tokio::spawn(job);
                    }
                });
            })
            .expect("reqwest-pattern thread");
        Reqwest { jobs, thread }
    }

    fn run<T, F>(&self, future: F) -> T
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (reply, result) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::pin(async move {
                let _ = reply.send(future.await);
            }))
            .expect("reqwest-pattern thread alive");
        result.blocking_recv().expect("reqwest-pattern reply")
    }

    fn stop(self) {
        drop(self.jobs);
        let _ = self.thread.join();
    }
}

/// What one call does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    Ready,
    /// About 20 µs of CPU work inside the future, then ready.
    Cpu,
    Timer,
    TcpEcho,
    Http,
}

impl Workload {
    pub const ALL: [Workload; 5] = [
        Workload::Ready,
        Workload::Cpu,
        Workload::Timer,
        Workload::TcpEcho,
        Workload::Http,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Workload::Ready => "ready future",
            Workload::Cpu => "20 µs of CPU work",
            Workload::Timer => "1 ms timer",
            Workload::TcpEcho => "TCP echo (kept connection)",
            Workload::Http => "HTTP/1.1 GET (keep-alive)",
        }
    }

    pub fn key(self) -> &'static str {
        match self {
            Workload::Ready => "ready",
            Workload::Cpu => "cpu_20us",
            Workload::Timer => "timer_1ms",
            Workload::TcpEcho => "tcp_echo",
            Workload::Http => "http_get",
        }
    }
}

/// Where the TCP workloads connect.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    pub echo: SocketAddr,
    pub http: SocketAddr,
}

type SmolConn = hyper::client::conn::http1::Connection<SmolIo, Empty<Bytes>>;
type SmolSender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;
pub type TokioClient = hyper_util::client::legacy::Client<
    hyper_util::client::legacy::connect::HttpConnector,
    Empty<Bytes>,
>;

/// A caller's state between calls: the connection it keeps, where the strategy allows.
#[derive(Default)]
pub struct Session {
    smol_tcp: Option<Async<TcpStream>>,
    tokio_tcp: Option<tokio::net::TcpStream>,
    smol_http: Option<(SmolSender, SmolConn)>,
    tokio_http: Option<TokioClient>,
}

type Outcome<T> = Result<T, String>;

fn text(err: impl std::fmt::Display) -> String {
    err.to_string()
}

/// Runs one call of `workload` with `strategy`.
pub fn step(
    kind: Kind,
    strategy: &Strategy,
    workload: Workload,
    target: Target,
    session: &mut Session,
) -> Outcome<()> {
    let keep = kind.keeps_connections();
    match (workload, kind.flavor()) {
        (Workload::Ready, _) => {
            let value = strategy.run(async { std::hint::black_box(1u64) });
            std::hint::black_box(value);
            Ok(())
        }
        (Workload::Cpu, _) => {
            let rounds = cpu_rounds();
            let value = strategy.run(async move { std::hint::black_box(spin_work(rounds)) });
            std::hint::black_box(value);
            Ok(())
        }
        (Workload::Timer, Flavor::Smol) => {
            strategy.run(async {
                async_io::Timer::after(Duration::from_millis(1)).await;
            });
            Ok(())
        }
        (Workload::Timer, Flavor::Tokio) => {
            // Created inside the future: a tokio timer needs the runtime's context.
            strategy.run(async { tokio::time::sleep(Duration::from_millis(1)).await });
            Ok(())
        }
        (Workload::TcpEcho, Flavor::Smol) => {
            let kept = if keep { session.smol_tcp.take() } else { None };
            let stream = strategy.run(async move {
                let mut stream = match kept {
                    Some(stream) => stream,
                    None => Async::<TcpStream>::connect(target.echo)
                        .await
                        .map_err(text)?,
                };
                echo(&mut stream).await.map_err(text)?;
                Ok::<_, String>(stream)
            })?;
            if keep {
                session.smol_tcp = Some(stream);
            }
            Ok(())
        }
        (Workload::TcpEcho, Flavor::Tokio) => {
            let kept = if keep { session.tokio_tcp.take() } else { None };
            let stream = strategy.run(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let mut stream = match kept {
                    Some(stream) => stream,
                    None => tokio::net::TcpStream::connect(target.echo)
                        .await
                        .map_err(text)?,
                };
                stream.write_all(&PAYLOAD).await.map_err(text)?;
                let mut back = [0u8; PAYLOAD.len()];
                stream.read_exact(&mut back).await.map_err(text)?;
                Ok::<_, String>(stream)
            })?;
            if keep {
                session.tokio_tcp = Some(stream);
            }
            Ok(())
        }
        (Workload::Http, Flavor::Smol) => {
            let kept = if keep { session.smol_http.take() } else { None };
            let uri: hyper::Uri = format!("http://{}/", target.http).parse().map_err(text)?;
            let connection = strategy.run(async move {
                let (mut sender, mut conn) = match kept {
                    Some(kept) => kept,
                    None => {
                        let stream = Async::<TcpStream>::connect(target.http)
                            .await
                            .map_err(text)?;
                        hyper::client::conn::http1::handshake(SmolIo(stream))
                            .await
                            .map_err(text)?
                    }
                };
                let request = hyper::Request::get(uri)
                    .header(hyper::header::HOST, "loopbridge")
                    .body(Empty::<Bytes>::new())
                    .map_err(text)?;
                // Drive the connection alongside the request, then hand both back.
                let response = drive(&mut conn, async {
                    let response = sender.send_request(request).await.map_err(text)?;
                    response
                        .into_body()
                        .collect()
                        .await
                        .map_err(text)
                        .map(|b| b.to_bytes())
                })
                .await?;
                std::hint::black_box(response);
                Ok::<_, String>((sender, conn))
            })?;
            if keep {
                session.smol_http = Some(connection);
            }
            Ok(())
        }
        (Workload::Http, Flavor::Tokio) => {
            // One client per caller, as an application caches it, per-call strategies included:
            // its pool is what a runtime per call loses.
            let client = session
                .tokio_http
                .get_or_insert_with(|| {
                    hyper_util::client::legacy::Client::builder(
                        hyper_util::rt::TokioExecutor::new(),
                    )
                    .build_http()
                })
                .clone();
            let uri: hyper::Uri = format!("http://{}/", target.http).parse().map_err(text)?;
            strategy.run(async move {
                let response = client.get(uri).await.map_err(text)?;
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map_err(text)?
                    .to_bytes();
                std::hint::black_box(body);
                Ok::<_, String>(())
            })
        }
    }
}

/// CPU work that the optimizer cannot skip: `rounds` steps of an xorshift generator.
pub fn spin_work(rounds: u64) -> u64 {
    let mut x = std::hint::black_box(0x9E37_79B9_7F4A_7C15u64);
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    x
}

/// How many [`spin_work`] rounds take about 20 µs on this machine, measured once (the best of
/// a few tries, so that a slow period does not shorten the work).
pub fn cpu_rounds() -> u64 {
    static ROUNDS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *ROUNDS.get_or_init(|| {
        const PROBE: u64 = 1_000_000;
        let best = (0..5)
            .map(|_| {
                let start = std::time::Instant::now();
                std::hint::black_box(spin_work(PROBE));
                start.elapsed()
            })
            .min()
            .expect("five tries");
        (PROBE as f64 * 20_000.0 / best.as_nanos().max(1) as f64) as u64
    })
}

async fn echo(stream: &mut Async<TcpStream>) -> io::Result<()> {
    stream.write_all(&PAYLOAD).await?;
    let mut back = [0u8; PAYLOAD.len()];
    stream.read_exact(&mut back).await
}

/// Polls `conn` while `work` runs, so an HTTP/1 connection makes progress without a task of
/// its own; returns `work`'s output.
async fn drive<T>(conn: &mut SmolConn, work: impl Future<Output = T>) -> T {
    let mut work = std::pin::pin!(work);
    let mut conn_done = false;
    std::future::poll_fn(move |cx| {
        if !conn_done && Pin::new(&mut *conn).poll(cx).is_ready() {
            conn_done = true;
        }
        work.as_mut().poll(cx)
    })
    .await
}

/// hyper's IO traits over an async-io socket, without unsafe: reads go through a small buffer.
pub struct SmolIo(Async<TcpStream>);

impl hyper::rt::Read for SmolIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let mut chunk = [0u8; 8192];
        let want = buf.remaining().min(chunk.len());
        match Pin::new(&mut self.0).poll_read(cx, &mut chunk[..want]) {
            Poll::Ready(Ok(n)) => {
                buf.put_slice(&chunk[..n]);
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl hyper::rt::Write for SmolIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}
