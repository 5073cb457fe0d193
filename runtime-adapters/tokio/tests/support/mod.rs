//! A real hyper HTTP/1.1 server on 127.0.0.1 that counts the TCP connections it accepts.
#![allow(dead_code)]

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
};

use http_body_util::{BodyExt, Empty, StreamBody, combinators::BoxBody};
use hyper::{
    Response, Uri,
    body::{Bytes, Frame},
    service::service_fn,
};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
};

/// The 1 MiB body of `/big`.
pub fn big_body() -> Vec<u8> {
    (0..1u32 << 20).map(|i| (i % 251) as u8).collect()
}

/// A server on an ephemeral loopback port, on a runtime of its own:
///
/// - `/` answers `hello`;
/// - `/big` answers [`big_body`];
/// - `/lines` answers three lines, one chunk each;
/// - `/stall` sends `partial\n`, then nothing until [`Server::unstall`], then `rest\n`.
pub struct Server {
    pub addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    stalled: Arc<tokio::sync::Semaphore>,
    runtime: Option<tokio::runtime::Runtime>,
}

type Body = BoxBody<Bytes, Infallible>;

fn chunks(chunks: Vec<&'static [u8]>, stalled: Option<Arc<tokio::sync::Semaphore>>) -> Body {
    let frames = futures_lite::stream::unfold(
        (chunks.into_iter(), stalled, 0),
        |(mut chunks, stalled, sent)| async move {
            let chunk = chunks.next()?;
            if sent == 1 {
                if let Some(stalled) = &stalled {
                    stalled.acquire().await.unwrap().forget();
                }
            }
            let frame = Ok::<_, Infallible>(Frame::data(Bytes::from_static(chunk)));
            Some((frame, (chunks, stalled, sent + 1)))
        },
    );
    BodyExt::boxed(StreamBody::new(frames))
}

fn respond(path: &str, stalled: &Arc<tokio::sync::Semaphore>) -> Body {
    match path {
        "/big" => BodyExt::boxed(http_body_util::Full::new(Bytes::from(big_body()))),
        "/lines" => chunks(vec![b"one\n", b"two\n", b"three\n"], None),
        "/stall" => chunks(vec![b"partial\n", b"rest\n"], Some(stalled.clone())),
        _ => BodyExt::boxed(http_body_util::Full::new(Bytes::from_static(b"hello"))),
    }
}

impl Server {
    pub fn start() -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("test-http-server")
            .enable_all()
            .build()
            .unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let counter = connections.clone();
        let stalled = Arc::new(tokio::sync::Semaphore::new(0));
        let unstall = stalled.clone();
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                counter.fetch_add(1, Ordering::SeqCst);
                let stalled = stalled.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: hyper::Request<_>| {
                        let body = respond(request.uri().path(), &stalled);
                        async move { Ok::<_, Infallible>(Response::new(body)) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Server {
            addr,
            connections,
            stalled: unstall,
            runtime: Some(runtime),
        }
    }

    /// Lets one `/stall` response go on.
    pub fn unstall(&self) {
        self.stalled.add_permits(1);
    }

    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn uri(&self) -> Uri {
        format!("http://{}/", self.addr).parse().unwrap()
    }

    /// The URL of `path` on this server, for reqwest.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

pub type HttpClient = Client<HttpConnector, Empty<Bytes>>;

/// A pooling HTTP/1.1 client. Its connections are driven by tasks on whichever tokio runtime
/// is current when each connection is made.
pub fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// GET `uri` and return the body as text.
pub async fn get(
    client: &HttpClient,
    uri: Uri,
) -> Result<String, Box<dyn std::error::Error + Send + Sync>> {
    let response = client.get(uri).await?;
    let body = response.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8(body.to_vec())?)
}
