//! Real HTTP clients side by side, on the same server in the same run: the real
//! `reqwest::blocking::Client`, and reqwest's async client bound to a loopbridge tokio bridge
//! (`Bound<reqwest::Client>`), the pattern of `examples/blocking_http.rs`.
//!
//! Beside them, the pattern most libraries use: reqwest's async client on a tokio multi_thread
//! runtime kept in a static, called with `RUNTIME.block_on`; and the loopbridge bridges again
//! with `Drive::Caller`.
//!
//! One caller makes keep-alive GETs back to back, in interleaved rounds: per round and client,
//! the median latency and the process's CPU time per call (the server runs in a child
//! process, so its CPU is not counted), then four callers' calls per second; over the run, the
//! TCP connections the server accepted for each client.

use std::{net::SocketAddr, time::Duration, time::Instant};

use loopbridge::{Bound, Bridge, Drive};
use loopbridge_tokio::TokioRuntime;

use crate::{latency::Latencies, os};

/// The clients measured, in the order of the report.
pub const CLIENTS: [&str; 6] = [
    "reqwest::blocking",
    "loopbridge tokio-ct + reqwest",
    "loopbridge tokio-mt + reqwest",
    "static runtime + reqwest",
    "caller-driven tokio-ct + reqwest",
    "caller-driven tokio-mt + reqwest",
];

/// Callers of each round's throughput figure.
pub const FOUR: usize = 4;

/// One round of one client.
#[derive(Debug, Clone, Copy)]
pub struct Round {
    pub median_ns: f64,
    pub cpu_ns_per_call: f64,
    pub calls: u64,
    pub errors: u64,
    /// Calls per second of [`FOUR`] callers at once.
    pub four_calls_per_sec: f64,
}

/// Every client's rounds, and the connections the server accepted for it over the run.
#[derive(Debug)]
pub struct Clients {
    pub rounds: usize,
    pub figures: Vec<(&'static str, Vec<Round>, u64)>,
}

#[derive(Clone)]
enum Client {
    Blocking(reqwest::blocking::Client),
    Bridged(Bound<reqwest::Client>),
    /// reqwest's async client, built inside the static runtime.
    Static(reqwest::Client),
}

/// The static runtime of the "static runtime + reqwest" client, as libraries keep one.
static RUNTIME: std::sync::LazyLock<tokio::runtime::Runtime> = std::sync::LazyLock::new(|| {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("ref-static-http")
        .enable_all()
        .build()
        .expect("static runtime")
});

impl Client {
    fn start(name: &str) -> Client {
        let bridged = |factory: fn() -> std::io::Result<TokioRuntime>, drive: Drive| {
            let bridge = Bridge::builder().runtime(factory).drive(drive).build();
            Client::Bridged(bridge.bind(|| async { reqwest::Client::new() }))
        };
        let multi = || TokioRuntime::multi_thread(2);
        match name {
            "reqwest::blocking" => Client::Blocking(reqwest::blocking::Client::new()),
            "loopbridge tokio-ct + reqwest" => {
                bridged(TokioRuntime::current_thread, Drive::Runtime)
            }
            "loopbridge tokio-mt + reqwest" => bridged(multi, Drive::Runtime),
            "static runtime + reqwest" => {
                let _inside = RUNTIME.enter();
                Client::Static(reqwest::Client::new())
            }
            "caller-driven tokio-ct + reqwest" => {
                bridged(TokioRuntime::current_thread, Drive::Caller)
            }
            _ => bridged(multi, Drive::Caller),
        }
    }

    fn get(&self, url: &str) -> Result<usize, String> {
        match self {
            Client::Blocking(client) => client
                .get(url)
                .send()
                .and_then(|response| response.bytes())
                .map(|body| body.len())
                .map_err(|err| err.to_string()),
            Client::Bridged(client) => {
                let url = url.to_owned();
                client
                    .call(|client| {
                        let request = client.get(url);
                        async move { request.send().await?.bytes().await }
                    })
                    .map_err(|err| err.to_string())?
                    .map(|body| body.len())
                    .map_err(|err| err.to_string())
            }
            Client::Static(client) => {
                let request = client.get(url);
                RUNTIME
                    .block_on(async move { request.send().await?.bytes().await })
                    .map(|body| body.len())
                    .map_err(|err| err.to_string())
            }
        }
    }

    fn stop(self) {
        if let Client::Bridged(client) = self {
            client.bridge().shutdown();
        }
    }
}

/// Measures `rounds` interleaved rounds of `slice` per client against the HTTP server at
/// `http`, counting its connections through `servers`.
pub fn measure(rounds: usize, slice: Duration, http: SocketAddr, servers: &os::Servers) -> Clients {
    let url = format!("http://{http}/");
    let mut figures = Vec::new();
    let clients: Vec<(&'static str, Client)> = CLIENTS
        .iter()
        .map(|&name| {
            // Connect and warm up, counting this client's connections from here on.
            let before = servers.connections();
            let client = Client::start(name);
            let _ = client.get(&url);
            figures.push((name, Vec::new(), servers.connections() - before));
            (name, client)
        })
        .collect();
    for _ in 0..rounds {
        for (i, (_, client)) in clients.iter().enumerate() {
            let before = servers.connections();
            figures[i].1.push(round(client, &url, slice));
            figures[i].2 += servers.connections() - before;
        }
    }
    for (_, client) in clients {
        client.stop();
    }
    Clients { rounds, figures }
}

fn round(client: &Client, url: &str, slice: Duration) -> Round {
    let mut latencies = Latencies::new();
    let mut errors = 0;
    let cpu_before = os::cpu_ns();
    let start = Instant::now();
    while start.elapsed() < slice {
        let t = Instant::now();
        if client.get(url).is_err() {
            errors += 1;
        }
        latencies.record(t.elapsed());
    }
    let cpu = os::cpu_ns().saturating_sub(cpu_before);
    let calls = latencies.count();
    let (four_calls, four_errors, four_wall) = crowd(client, url, slice / 2);
    Round {
        median_ns: latencies.quantile_ns(0.5) as f64,
        cpu_ns_per_call: cpu as f64 / calls as f64,
        calls: calls + four_calls,
        errors: errors + four_errors,
        four_calls_per_sec: four_calls as f64 / four_wall.as_secs_f64(),
    }
}

/// [`FOUR`] callers sharing `client` for `slice`: their calls, errors and the wall time.
fn crowd(client: &Client, url: &str, slice: Duration) -> (u64, u64, Duration) {
    let start = Instant::now();
    let threads: Vec<_> = (0..FOUR)
        .map(|_| {
            let (client, url) = (client.clone(), url.to_owned());
            std::thread::spawn(move || {
                let (mut calls, mut errors) = (0u64, 0u64);
                while start.elapsed() < slice {
                    if client.get(&url).is_err() {
                        errors += 1;
                    }
                    calls += 1;
                }
                (calls, errors)
            })
        })
        .collect();
    let (calls, errors) = threads
        .into_iter()
        .map(|thread| thread.join().expect("a client caller"))
        .fold((0, 0), |(c, e), (calls, errors)| (c + calls, e + errors));
    (calls, errors, start.elapsed())
}
