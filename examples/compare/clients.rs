//! Real HTTP clients side by side, on the same server in the same run: the real
//! `reqwest::blocking::Client`, and reqwest's async client bound to a loopbridge tokio bridge
//! (`Bound<reqwest::Client>`), the pattern of `examples/blocking_http.rs`.
//!
//! One caller makes keep-alive GETs back to back, in interleaved rounds: per round and client,
//! the median latency and the process's CPU time per call (the server runs in a child
//! process, so its CPU is not counted); over the run, the TCP connections the server accepted
//! for each client.

use std::{net::SocketAddr, time::Duration, time::Instant};

use loopbridge::{Bound, Bridge};
use loopbridge_tokio::TokioRuntime;

use crate::{latency::Latencies, os};

/// The clients measured, in the order of the report.
pub const CLIENTS: [&str; 3] = [
    "reqwest::blocking",
    "loopbridge tokio-ct + reqwest",
    "loopbridge tokio-mt + reqwest",
];

/// One round of one client.
#[derive(Debug, Clone, Copy)]
pub struct Round {
    pub median_ns: f64,
    pub cpu_ns_per_call: f64,
    pub calls: u64,
    pub errors: u64,
}

/// Every client's rounds, and the connections the server accepted for it over the run.
#[derive(Debug)]
pub struct Clients {
    pub rounds: usize,
    pub figures: Vec<(&'static str, Vec<Round>, u64)>,
}

enum Client {
    Blocking(reqwest::blocking::Client),
    Bridged(Bound<reqwest::Client>),
}

impl Client {
    fn start(name: &str) -> Client {
        match name {
            "reqwest::blocking" => Client::Blocking(reqwest::blocking::Client::new()),
            "loopbridge tokio-ct + reqwest" => {
                let bridge = Bridge::with_runtime(TokioRuntime::current_thread);
                Client::Bridged(bridge.bind(|| async { reqwest::Client::new() }))
            }
            _ => {
                let bridge = Bridge::with_runtime(|| TokioRuntime::multi_thread(2));
                Client::Bridged(bridge.bind(|| async { reqwest::Client::new() }))
            }
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
    Round {
        median_ns: latencies.quantile_ns(0.5) as f64,
        cpu_ns_per_call: cpu as f64 / calls as f64,
        calls,
        errors,
    }
}
