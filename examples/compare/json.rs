//! The JSON output (`--json`): one object per cell, idle cost, fast-path strategy, strategy
//! under load and HTTP client, as a JSON array, written and read with serde.

use serde::{Deserialize, Serialize};

use crate::{Report, clients, load, patterns::Kind, report::median};

/// One object of the output. Each kind has fields of its own, and no others, which is how a
/// reader tells them apart (`workload` says it too).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum Object {
    Cell(CellObject),
    Idle(IdleObject),
    Fast(FastObject),
    Load(LoadObject),
    Client(ClientObject),
    Cancel(CancelObject),
}

/// How long a cancelled call takes to return after `CancelToken::cancel`.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CancelObject {
    pub strategy: String,
    pub workload: String,
    pub callers: usize,
    pub trials: u64,
    pub cancel_to_return_median_ns: u64,
    pub cancel_to_return_p99_ns: u64,
}

/// A cell of the table: one strategy × workload × caller count.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CellObject {
    pub strategy: String,
    pub workload: String,
    pub callers: usize,
    pub calls: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub median_ns: u64,
    pub p99_ns: u64,
    pub calls_per_sec: f64,
    pub cpu_ns_per_call: f64,
    pub threads_created: u64,
    pub peak_extra_fds: usize,
    pub tcp_connections: u64,
    pub allocs_per_call: f64,
}

/// A persistent strategy left without calls.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IdleObject {
    pub strategy: String,
    pub workload: String,
    pub callers: usize,
    pub settle_ms: u64,
    pub window_ms: u64,
    pub idle_cpu_percent: f64,
}

/// A strategy's fast path (or the spin-handoff floor's).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FastObject {
    pub strategy: String,
    pub workload: String,
    pub callers: usize,
    pub rounds: usize,
    pub median_ns: f64,
    pub crowd_callers: usize,
    pub crowd_calls_per_sec: Option<f64>,
}

/// A strategy under load.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LoadObject {
    pub strategy: String,
    pub workload: String,
    pub callers: usize,
    pub rounds: usize,
    pub alone_ns: f64,
    pub parked_ns: f64,
    pub paced_cpu_percent: f64,
    pub paced_ns: f64,
    pub fresh_paced_cpu_percent: f64,
    pub fresh_paced_ns: f64,
    pub loaded_ns: f64,
}

/// A real HTTP client.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClientObject {
    pub strategy: String,
    pub workload: String,
    pub callers: usize,
    pub rounds: usize,
    pub median_ns: f64,
    pub cpu_ns_per_call: f64,
    pub tcp_connections: u64,
    pub calls: u64,
    pub errors: u64,
    pub four_callers_calls_per_sec: f64,
}

/// Every object of a run, in the order of the output.
pub fn objects(report: &Report) -> Vec<Object> {
    let Report {
        cells,
        idles,
        fast,
        load,
        clients,
        cancels,
    } = report;
    let mut out = Vec::new();
    for figures in cancels {
        out.push(Object::Cancel(CancelObject {
            strategy: figures.kind.name().into(),
            workload: "cancel".into(),
            callers: 1,
            trials: figures.trials,
            cancel_to_return_median_ns: figures.median_ns,
            cancel_to_return_p99_ns: figures.p99_ns,
        }));
    }
    for (name, rounds, connections) in &clients.figures {
        let of = |f: fn(&clients::Round) -> f64| median(rounds.iter().map(f).collect());
        out.push(Object::Client(ClientObject {
            strategy: (*name).to_owned(),
            workload: "http_clients".into(),
            callers: 1,
            rounds: clients.rounds,
            median_ns: of(|r| r.median_ns),
            cpu_ns_per_call: of(|r| r.cpu_ns_per_call),
            tcp_connections: *connections,
            calls: rounds.iter().map(|r| r.calls).sum(),
            errors: rounds.iter().map(|r| r.errors).sum(),
            four_callers_calls_per_sec: of(|r| r.four_calls_per_sec),
        }));
    }
    for (kind, rounds) in &load.figures {
        let of = |f: fn(&load::Round) -> f64| median(rounds.iter().map(f).collect());
        out.push(Object::Load(LoadObject {
            strategy: kind.name().into(),
            workload: "load".into(),
            callers: 1,
            rounds: load.rounds,
            alone_ns: of(|r| r.alone_ns),
            parked_ns: of(|r| r.parked_ns),
            paced_cpu_percent: of(|r| r.paced_cpu_percent),
            paced_ns: of(|r| r.paced_ns),
            fresh_paced_cpu_percent: of(|r| r.fresh_cpu_percent),
            fresh_paced_ns: of(|r| r.fresh_ns),
            loaded_ns: of(|r| r.loaded_ns),
        }));
    }
    for (kind, medians) in &fast.medians {
        let crowd = fast
            .sixteen
            .iter()
            .find(|(k, _)| Some(*k) == *kind)
            .map(|(_, rates)| median(rates.clone()));
        out.push(Object::Fast(FastObject {
            strategy: kind.map_or("spin-handoff floor", Kind::name).into(),
            workload: "fast_path".into(),
            callers: 1,
            rounds: fast.rounds,
            median_ns: median(medians.iter().map(|d| d.as_nanos() as f64).collect()),
            crowd_callers: crate::CROWD,
            crowd_calls_per_sec: crowd,
        }));
    }
    for c in cells {
        out.push(Object::Cell(CellObject {
            strategy: c.kind.name().into(),
            workload: c.workload.key().into(),
            callers: c.callers,
            calls: c.calls,
            errors: c.errors,
            first_error: c.first_error.clone(),
            median_ns: c.median_ns,
            p99_ns: c.p99_ns,
            calls_per_sec: c.calls_per_sec,
            cpu_ns_per_call: c.cpu_ns_per_call,
            threads_created: c.threads_created,
            peak_extra_fds: c.peak_extra_fds,
            tcp_connections: c.tcp_connections,
            allocs_per_call: c.allocs_per_call,
        }));
    }
    for idle in idles {
        out.push(Object::Idle(IdleObject {
            strategy: idle.kind.name().into(),
            workload: "idle".into(),
            callers: 0,
            settle_ms: idle.settle.as_millis() as u64,
            window_ms: idle.window.as_millis() as u64,
            idle_cpu_percent: idle.cpu_percent,
        }));
    }
    out
}

/// The JSON output of a run.
pub fn render(report: &Report) -> String {
    let objects = objects(report);
    serde_json::to_string_pretty(&objects).expect("plain data serializes")
}
