//! A small blocking HTTP client over hyper, on a persistent tokio bridge: the
//! reqwest::blocking pattern, made general. It starts a hello server on 127.0.0.1 and fetches
//! from it; every request reuses one pooled connection.
//!
//! ```sh
//! cargo run --example blocking_http
//! ```

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use http_body_util::Full;
use hyper::{Response, body::Bytes, service::service_fn};
use hyper_util::rt::TokioIo;

/// The blocking API: plain functions, no async in sight.
mod blocking {
    use std::time::Duration;

    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    use hyper_util::client::legacy::{Client as Hyper, connect::HttpConnector};
    use loopbridge::Bridge;
    use loopbridge_tokio::TokioRuntime;

    pub type Error = Box<dyn std::error::Error + Send + Sync>;

    /// A blocking HTTP client. Its connection pool lives on the bridge's tokio runtime.
    #[derive(Clone)]
    pub struct Client {
        bridge: Bridge,
        hyper: Hyper<HttpConnector, Empty<Bytes>>,
    }

    impl Client {
        pub fn new() -> Client {
            Client {
                bridge: Bridge::with_runtime(TokioRuntime::current_thread),
                hyper: Hyper::builder(hyper_util::rt::TokioExecutor::new()).build_http(),
            }
        }

        /// GET `url`, giving up after `timeout`; returns the status and the body as text.
        pub fn get(&self, url: &str, timeout: Duration) -> Result<(u16, String), Error> {
            let uri: hyper::Uri = url.parse()?;
            let hyper = self.hyper.clone();
            self.bridge.call_timeout(
                async move {
                    let response = hyper.get(uri).await?;
                    let status = response.status().as_u16();
                    let body = response.into_body().collect().await?.to_bytes();
                    Ok((status, String::from_utf8(body.to_vec())?))
                },
                timeout,
            )?
        }

        /// Stops the client's runtime; later requests fail.
        pub fn close(&self) {
            self.bridge.shutdown();
        }
    }
}

fn main() -> Result<(), blocking::Error> {
    let (addr, connections) = serve_hello();
    let client = blocking::Client::new();
    let url = format!("http://{addr}/");
    for n in 1..=5 {
        let (status, body) = client.get(&url, Duration::from_secs(5))?;
        println!("request {n}: {status} {body}");
    }
    println!(
        "5 requests, {} TCP connection(s) accepted by the server",
        connections.load(Ordering::SeqCst)
    );
    client.close();
    let after = client.get(&url, Duration::from_secs(5));
    println!("after close: {}", after.unwrap_err());
    Ok(())
}

/// A hello server on an ephemeral loopback port, counting the connections it accepts.
fn serve_hello() -> (SocketAddr, Arc<AtomicUsize>) {
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
                    let hello = service_fn(|_request| async {
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"hello"))))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), hello)
                        .await;
                });
            }
        });
    });
    (rx.recv().expect("server address"), connections)
}
