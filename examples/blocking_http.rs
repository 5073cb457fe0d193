//! A small blocking HTTP client library over **reqwest's async client**, on a persistent
//! tokio bridge: what reqwest::blocking does, made from loopbridge's parts.
//!
//! - the client is a `Bound<reqwest::Client>`: made on the bridge's runtime, its pool kept
//!   there, and made afresh if that runtime is ever retired;
//! - a response body is a `std::io::Read` (`Bridge::reader`), with a read timeout;
//! - a streamed body can be read line by line through `Bridge::iter`.
//!
//! It starts a hyper server on 127.0.0.1 and fetches from it; every request reuses one pooled
//! connection.
//!
//! ```sh
//! cargo run --example blocking_http
//! ```

use std::{
    convert::Infallible,
    io::{BufRead, Read},
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use http_body_util::{BodyExt, Full, StreamBody, combinators::BoxBody};
use hyper::{
    Request, Response,
    body::{Bytes, Frame},
    service::service_fn,
};
use hyper_util::rt::TokioIo;

/// The blocking API: plain types and functions, no async in sight.
mod blocking {
    use std::{io, time::Duration};

    use futures_lite::{Stream, StreamExt};
    use loopbridge::{BlockingReader, BlockingStream, Bound, Bridge, BridgeError};
    use loopbridge_tokio::TokioRuntime;
    use tokio_util::{compat::Compat, io::StreamReader};

    pub type Error = Box<dyn std::error::Error + Send + Sync>;

    /// A blocking HTTP client. Its reqwest client, and the pool in it, live on the bridge's
    /// tokio runtime.
    #[derive(Clone, Debug)]
    pub struct Client {
        http: Bound<reqwest::Client>,
        timeout: Duration,
    }

    /// A response whose body has not been read yet.
    #[derive(Debug)]
    pub struct Response {
        pub status: u16,
        bridge: Bridge,
        body: reqwest::Response,
        timeout: Duration,
    }

    /// The body as bytes read from the runtime.
    type BodyStream = std::pin::Pin<Box<dyn Stream<Item = io::Result<bytes::Bytes>> + Send>>;

    /// A body as `std::io::Read` + `BufRead`.
    pub type Body = BlockingReader<Compat<StreamReader<BodyStream, bytes::Bytes>>>;

    impl Client {
        /// A client with requests and reads bounded by `timeout`.
        pub fn new(timeout: Duration) -> Client {
            let bridge = Bridge::with_runtime(TokioRuntime::current_thread);
            // Made on the runtime, the first time a request needs it.
            let http = bridge.bind(|| async { reqwest::Client::new() });
            Client { http, timeout }
        }

        /// Sends a GET to `url` and returns once the response's head has arrived.
        pub fn get(&self, url: &str) -> Result<Response, Error> {
            let url = url.to_owned();
            let body = self.http.call_timeout(
                |http| {
                    let request = http.get(url);
                    async move { request.send().await }
                },
                self.timeout,
            )??;
            Ok(Response {
                status: body.status().as_u16(),
                bridge: self.http.bridge().clone(),
                body,
                timeout: self.timeout,
            })
        }

        /// Stops the client's runtime; later requests fail with `BridgeError::Shutdown`.
        pub fn close(&self) {
            self.http.bridge().shutdown();
        }
    }

    impl Response {
        /// The body as a blocking reader, each read bounded by the client's timeout.
        pub fn into_reader(self) -> Body {
            let chunks = self
                .body
                .bytes_stream()
                .map(|chunk| chunk.map_err(io::Error::other));
            let chunks: BodyStream = Box::pin(chunks);
            let mut reader = loopbridge_tokio::reader(&self.bridge, StreamReader::new(chunks));
            reader.set_timeout(Some(self.timeout));
            reader
        }

        /// The body's chunks as they arrive: for a server that streams a line at a time.
        pub fn chunks(
            self,
        ) -> BlockingStream<impl Stream<Item = reqwest::Result<bytes::Bytes>> + Send + 'static>
        {
            self.bridge.iter(self.body.bytes_stream())
        }

        /// The whole body as text.
        pub fn text(self) -> Result<String, Error> {
            let mut text = String::new();
            io::Read::read_to_string(&mut self.into_reader(), &mut text)?;
            Ok(text)
        }
    }

    /// Whether `err` came from the bridge (a timeout, a shutdown) rather than from HTTP.
    pub fn is_bridge_error(err: &Error) -> bool {
        err.downcast_ref::<BridgeError>().is_some()
    }
}

fn main() -> Result<(), blocking::Error> {
    let (addr, connections) = serve();
    let client = blocking::Client::new(Duration::from_secs(5));

    for n in 1..=3 {
        let response = client.get(&format!("http://{addr}/"))?;
        let status = response.status;
        println!("request {n}: {status} {}", response.text()?);
    }

    // A large body through `std::io::Read`.
    let mut body = client.get(&format!("http://{addr}/big"))?.into_reader();
    let mut bytes = Vec::new();
    body.read_to_end(&mut bytes)?;
    println!("/big: {} bytes through std::io::Read", bytes.len());

    // The same body a line at a time, through `BufRead`.
    let lines = client.get(&format!("http://{addr}/lines"))?.into_reader();
    for line in lines.lines() {
        println!("/lines, read as lines: {}", line?);
    }

    // A streamed body, chunk by chunk as the server sends it, through `Bridge::iter`.
    for chunk in client.get(&format!("http://{addr}/lines"))?.chunks() {
        let chunk = chunk??;
        print!("/lines, streamed: {}", String::from_utf8_lossy(&chunk));
    }

    println!(
        "{} TCP connection(s) accepted by the server for 6 requests",
        connections.load(Ordering::SeqCst)
    );
    client.close();
    let after = client.get(&format!("http://{addr}/")).unwrap_err();
    println!(
        "after close: {after} (from the bridge: {})",
        blocking::is_bridge_error(&after)
    );
    Ok(())
}

type Body = BoxBody<Bytes, Infallible>;

/// `/` says hello, `/big` sends 256 KiB, `/lines` streams three lines 20 ms apart.
fn respond(request: &Request<hyper::body::Incoming>) -> Body {
    match request.uri().path() {
        "/big" => Full::new(Bytes::from(vec![b'x'; 256 * 1024])).boxed(),
        "/lines" => {
            let lines = futures_lite::stream::unfold(0, |n| async move {
                if n == 3 {
                    return None;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
                let line = Frame::data(Bytes::from(format!("line {}\n", n + 1)));
                Some((Ok::<_, Infallible>(line), n + 1))
            });
            StreamBody::new(lines).boxed()
        }
        _ => Full::new(Bytes::from_static(b"hello")).boxed(),
    }
}

/// A server on an ephemeral loopback port, counting the connections it accepts.
fn serve() -> (SocketAddr, Arc<AtomicUsize>) {
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = connections.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("server runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            tx.send(listener.local_addr().expect("address"))
                .expect("send address");
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let service = service_fn(|request| {
                        let body = respond(&request);
                        async move { Ok::<_, Infallible>(Response::new(body)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
    });
    (rx.recv().expect("server address"), connections)
}
