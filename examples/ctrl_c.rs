//! Calls that stop when their caller says so: a blocking download over **reqwest's async
//! client** on a tokio bridge that Ctrl-C cancels at once, and one 2 s timeout that covers an
//! operation of several calls.
//!
//! - Ctrl-C (through the `ctrlc` crate) cancels a `CancelToken`; every bridge call made in a
//!   `Scope` that watches the token (the GET, each read of the body) is woken and fails with
//!   `BridgeError::Cancelled` at once, its future dropped on the runtime. No polling loop, no
//!   100 ms slices.
//! - `Scope::timeout` gives a whole operation one deadline: each call inside gets what is left
//!   of it, however many calls the operation makes.
//!
//! It starts a hyper server on 127.0.0.1 whose `/slow` body never ends (a chunk every 50 ms).
//!
//! ```sh
//! cargo run --example ctrl_c                      # press Ctrl-C during the download
//! cargo run --example ctrl_c -- --self-interrupt  # sends itself SIGINT after 300 ms (CI)
//! ```

use std::{
    convert::Infallible,
    io::Read,
    net::SocketAddr,
    process::ExitCode,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use futures_lite::StreamExt;
use http_body_util::{StreamBody, combinators::BoxBody};
use hyper::{
    Request, Response,
    body::{Bytes, Frame},
    service::service_fn,
};
use hyper_util::rt::TokioIo;
use loopbridge::{Bound, Bridge, BridgeError, CancelToken, Scope};
use loopbridge_tokio::TokioRuntime;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Error> {
    let self_interrupt = std::env::args().any(|arg| arg == "--self-interrupt");
    let server = Server::start()?;
    let bridge = Bridge::with_runtime(TokioRuntime::current_thread);
    let client = bridge.bind(|| async { reqwest::Client::new() });

    // Ctrl-C cancels the token; the handler runs on a thread of its own.
    let token = CancelToken::new();
    let interrupted_at = Arc::new(Mutex::new(None::<Instant>));
    {
        let (token, interrupted_at) = (token.clone(), interrupted_at.clone());
        ctrlc::set_handler(move || {
            *interrupted_at.lock().unwrap() = Some(Instant::now());
            token.cancel();
        })?;
    }
    if self_interrupt {
        // As if the user pressed Ctrl-C 300 ms into the download.
        std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            let pid = std::process::id().to_string();
            let _ = std::process::Command::new("kill")
                .args(["-INT", &pid])
                .status();
        });
    } else {
        println!("downloading an endless body: press Ctrl-C to stop");
    }

    // 1. A download that only Ctrl-C ends.
    let url = format!("http://{}/slow", server.addr);
    let read = Scope::new()
        .cancel_on(&token)
        .run(|| download(&bridge, &client, &url));
    let err = read.expect_err("only a cancel ends this download");
    let stopped = Instant::now();
    match err
        .downcast_ref::<std::io::Error>()
        .and_then(BridgeError::from_io)
    {
        Some(err) if err.is_cancelled() => {}
        _ => match err.downcast_ref::<BridgeError>() {
            Some(err) if err.is_cancelled() => {}
            _ => return Err(format!("the download failed otherwise: {err}").into()),
        },
    }
    let after = interrupted_at
        .lock()
        .unwrap()
        .map(|at| stopped.saturating_duration_since(at));
    println!("Ctrl-C cancelled the download; the blocked read returned {after:?} after the signal");

    // 2. One deadline over an operation of several calls.
    let started = Instant::now();
    let mut steps = Vec::new();
    let outcome = Scope::new().timeout(Duration::from_secs(2)).run(|| {
        for item in 0..5 {
            let url = format!("http://{}/item/{item}", server.addr);
            steps.push(get_text(&client, url)?);
        }
        // The last step would take forever: the deadline ends it.
        download(&bridge, &client, &url)
    });
    let err = outcome.expect_err("the deadline ends the operation");
    println!(
        "one 2 s deadline: {} quick calls, then the download stopped after {:.2?}: {err}",
        steps.len(),
        started.elapsed()
    );
    if steps.len() != 5 || started.elapsed() < Duration::from_secs(2) {
        return Err("the operation did not run until its deadline".into());
    }
    bridge.shutdown();
    server.stop();
    Ok(())
}

/// GETs `url` and reads its body to the end, through the bridge: the GET is one call, each
/// read another.
fn download(bridge: &Bridge, client: &Bound<reqwest::Client>, url: &str) -> Result<u64, Error> {
    let url = url.to_owned();
    let response = client.call(|client| {
        let request = client.get(url);
        async move { request.send().await }
    })??;
    let body = response
        .bytes_stream()
        .map(|chunk| chunk.map_err(std::io::Error::other));
    let mut body = loopbridge_tokio::reader(bridge, tokio_util::io::StreamReader::new(body));
    let mut buf = [0; 8192];
    let mut total = 0;
    loop {
        match body.read(&mut buf)? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}

fn get_text(client: &Bound<reqwest::Client>, url: String) -> Result<String, Error> {
    let text = client.call(|client| {
        let request = client.get(url);
        async move { request.send().await?.text().await }
    })??;
    Ok(text)
}

/// A hyper server on 127.0.0.1: `/slow` streams a chunk every 50 ms and never ends; anything
/// else answers at once.
struct Server {
    addr: SocketAddr,
    runtime: tokio::runtime::Runtime,
}

type Body = BoxBody<Bytes, Infallible>;

impl Server {
    fn start() -> Result<Server, Error> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("example-server")
            .enable_all()
            .build()?;
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        let addr = listener.local_addr()?;
        runtime.spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let service =
                        service_fn(|request: Request<hyper::body::Incoming>| async move {
                            Ok::<_, Infallible>(Response::new(respond(request.uri().path())))
                        });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(Server { addr, runtime })
    }

    fn stop(self) {
        self.runtime.shutdown_background();
    }
}

fn respond(path: &str) -> Body {
    use http_body_util::BodyExt;
    if path == "/slow" {
        let chunks = futures_lite::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            Some((Ok(Frame::data(Bytes::from_static(b"chunk\n"))), ()))
        });
        return BodyExt::boxed(StreamBody::new(chunks));
    }
    BodyExt::boxed(http_body_util::Full::new(Bytes::from(format!("{path}\n"))))
}
