//! The table, the JSON and the SVG chart.

use std::fmt::Write;

use crate::{
    CALLERS, Cell, FastPath, Idle,
    clients::Clients,
    load::Load,
    patterns::{Kind, Workload},
};

fn duration(ns: f64) -> String {
    if ns >= 1e9 {
        format!("{:.2} s", ns / 1e9)
    } else if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.1} µs", ns / 1e3)
    } else {
        format!("{ns:.0} ns")
    }
}

/// "100 ns", "1 µs", ... for a power of ten of nanoseconds.
fn decade_label(decade: i32) -> String {
    let (unit, base) = match decade {
        ..=2 => ("ns", 0),
        3..=5 => ("µs", 3),
        6..=8 => ("ms", 6),
        _ => ("s", 9),
    };
    format!("{} {unit}", 10u64.pow((decade - base).max(0) as u32))
}

fn find(cells: &[Cell], kind: Kind, workload: Workload, callers: usize) -> Option<&Cell> {
    cells
        .iter()
        .find(|c| c.kind == kind && c.workload == workload && c.callers == callers)
}

/// The human-readable report: a section per workload and caller count, then ratios.
pub fn table(
    cells: &[Cell],
    idles: &[Idle],
    fast: &FastPath,
    load: &Load,
    clients: &Clients,
    budget: std::time::Duration,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "loopbridge compare: {} ms per cell, {} cores\n",
        budget.as_millis(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    for workload in Workload::ALL {
        for callers in CALLERS {
            let _ = writeln!(
                out,
                "## {} · {callers} caller thread{}",
                workload.name(),
                if callers == 1 { "" } else { "s" }
            );
            let _ = writeln!(
                out,
                "{:<26} {:>10} {:>10} {:>11} {:>10} {:>8} {:>8} {:>9} {:>6} {:>7}",
                "strategy",
                "median",
                "p99",
                "calls/s",
                "CPU/call",
                "allocs",
                "threads",
                "peak fds",
                "conns",
                "errors"
            );
            for kind in Kind::ALL {
                let Some(c) = find(cells, kind, workload, callers) else {
                    continue;
                };
                let _ = writeln!(
                    out,
                    "{:<26} {:>10} {:>10} {:>11.0} {:>10} {:>8.1} {:>8} {:>9} {:>6} {:>7}",
                    kind.name(),
                    duration(c.median_ns as f64),
                    duration(c.p99_ns as f64),
                    c.calls_per_sec,
                    duration(c.cpu_ns_per_call),
                    c.allocs_per_call,
                    c.threads_created,
                    c.peak_extra_fds,
                    c.tcp_connections,
                    c.errors,
                );
            }
            out.push('\n');
        }
    }
    out.push_str(&summary(cells));
    out.push_str(&fast_path(cells, idles, fast));
    out.push_str(&under_load(load));
    out.push_str(&http_clients(clients));
    if let Some(first) = idles.first() {
        let _ = writeln!(
            out,
            "\n## Idle cost: CPU of a strategy's own threads over {} ms, after {} ms without calls",
            first.window.as_millis(),
            first.settle.as_millis()
        );
        for idle in idles {
            let _ = writeln!(
                out,
                "{:<26} {:>7.2}% of a core",
                idle.kind.name(),
                idle.cpu_percent
            );
        }
    }
    let errors: Vec<_> = cells
        .iter()
        .filter_map(|c| c.first_error.as_ref().map(|e| (c, e)))
        .collect();
    if !errors.is_empty() {
        out.push_str("\nFirst error per failing cell:\n");
        for (c, e) in errors {
            let _ = writeln!(
                out,
                "- {} · {} · {} callers: {e}",
                c.kind.name(),
                c.workload.name(),
                c.callers
            );
        }
    }
    out.push_str(
        "\nallocs: heap allocations per call, process-wide (a counting global allocator, on only \
         while the table's cells run, not while the fast path is timed); \
         threads: created during the measured calls (machine-wide /proc/stat count); peak fds: \
         extra descriptors open at once (sampled every 2 ms); conns: TCP connections the \
         servers accepted during the measured calls. Warm-up calls are not measured.\n",
    );
    out
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

/// The fast path's figures: a ready future's round trip against the spin-handoff floor and the
/// reqwest::blocking pattern (medians over interleaved rounds, and the median of the per-round
/// ratios), allocations per call, idle cost, and the throughput of 16 callers against the
/// reqwest::blocking pattern's (the median of the per-round ratios too).
fn fast_path(cells: &[Cell], idles: &[Idle], fast: &FastPath) -> String {
    let mut out = format!(
        "\n## Fast path: a ready future, back to back, one caller ({} interleaved rounds)\n",
        fast.rounds
    );
    let series = |kind: Option<Kind>| -> Vec<f64> {
        fast.medians
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, m)| m.iter().map(|d| d.as_nanos() as f64).collect())
            .unwrap_or_default()
    };
    let floor = series(None);
    let reqwest = series(Some(Kind::Reqwest));
    let _ = writeln!(
        out,
        "{:<28} {:>10}",
        "spin-handoff floor",
        duration(median(floor.clone()))
    );
    let _ = writeln!(
        out,
        "{:<28} {:>10}",
        Kind::Reqwest.name(),
        duration(median(reqwest.clone()))
    );
    let sixteen = |kind: Kind| -> Vec<f64> {
        fast.sixteen
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    };
    let reqwest16 = sixteen(Kind::Reqwest);
    for kind in [
        Kind::BridgeSmol,
        Kind::BridgeTokioCurrent,
        Kind::BridgeTokioMulti,
        Kind::BridgeTokioAttached,
    ] {
        let mine = series(Some(kind));
        let per_round = |other: &[f64], mine_over: bool| {
            median(
                mine.iter()
                    .zip(other)
                    .map(|(m, o)| if mine_over { m / o } else { o / m })
                    .collect(),
            )
        };
        let allocs = find(cells, kind, Workload::Ready, 1).map_or(f64::NAN, |c| c.allocs_per_call);
        let tput16 = median(
            sixteen(kind)
                .iter()
                .zip(&reqwest16)
                .map(|(mine, theirs)| mine / theirs)
                .collect(),
        );
        let idle = idles
            .iter()
            .find(|i| i.kind == kind)
            .map_or(f64::NAN, |i| i.cpu_percent);
        // (Strategies outside the table, like tokio-attached, have no allocation or idle
        // figure.)
        let or_dash = |figure: f64, text: String| if figure.is_nan() { "–".into() } else { text };
        let _ = writeln!(
            out,
            "{:<28} {:>10}  {:>5.1}× the floor, {:>5.1}× faster than reqwest::blocking, \
             {} allocs/call, idle {}% of a core, {} callers: {:.2}× reqwest's calls/s",
            kind.name(),
            duration(median(mine.clone())),
            per_round(&floor, true),
            per_round(&reqwest, false),
            or_dash(allocs, format!("{allocs:.1}")),
            or_dash(idle, format!("{idle:.2}")),
            crate::CROWD,
            tput16,
        );
    }
    out
}

/// The fast path under load: each figure the median over rounds of a ratio within a round.
fn under_load(load: &Load) -> String {
    let mut out = format!(
        "\n## Under load: a ready future, one caller ({} interleaved rounds)\n",
        load.rounds
    );
    let rounds = |kind: Kind| -> &[crate::load::Round] {
        load.figures
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(&[], |(_, r)| r.as_slice())
    };
    let reference = rounds(Kind::Reqwest);
    let vs_reference = |mine: &[crate::load::Round], f: fn(&crate::load::Round) -> f64| {
        median(
            mine.iter()
                .zip(reference)
                .map(|(m, r)| f(m) / f(r))
                .collect(),
        )
    };
    let _ = writeln!(
        out,
        "{:<28} {:>28} {:>30}",
        "", "one other call parked", "2 cores kept busy by others"
    );
    for (kind, mine) in &load.figures {
        let _ = writeln!(
            out,
            "{:<28} {:>8} ({:>4.2}× alone) {:>14} ({:>5.1}× faster than reqwest)",
            kind.name(),
            duration(median(mine.iter().map(|r| r.parked_ns).collect())),
            median(mine.iter().map(|r| r.parked_ns / r.alone_ns).collect()),
            duration(median(mine.iter().map(|r| r.loaded_ns).collect())),
            1.0 / vs_reference(mine, |r| r.loaded_ns),
        );
    }
    let _ = writeln!(
        out,
        "\none caller, a ready call every 100 µs: process CPU (% of a core) and median latency\n\
         {:<28} {:>36} {:>36}",
        "", "after back-to-back calls", "on a fresh strategy"
    );
    for (kind, mine) in &load.figures {
        let _ = writeln!(
            out,
            "{:<28} {:>5.1}% ({:>4.2}× reqwest's) {:>10} {:>5.1}% ({:>4.2}× reqwest's) {:>10}",
            kind.name(),
            median(mine.iter().map(|r| r.paced_cpu_percent).collect()),
            vs_reference(mine, |r| r.paced_cpu_percent),
            duration(median(mine.iter().map(|r| r.paced_ns).collect())),
            median(mine.iter().map(|r| r.fresh_cpu_percent).collect()),
            vs_reference(mine, |r| r.fresh_cpu_percent),
            duration(median(mine.iter().map(|r| r.fresh_ns).collect())),
        );
    }
    out
}

/// The real HTTP clients, side by side (`clients.rs`).
fn http_clients(clients: &Clients) -> String {
    let mut out = format!(
        "\n## Real HTTP clients: keep-alive GETs from one caller, same server, {} interleaved rounds\n",
        clients.rounds
    );
    let Some((_, reference, _)) = clients.figures.first() else {
        return out;
    };
    let _ = writeln!(
        out,
        "{:<32} {:>10} {:>22} {:>14} {:>12} {:>7}",
        "client", "median", "vs reqwest::blocking", "CPU per call", "connections", "errors"
    );
    for (name, rounds, connections) in &clients.figures {
        let ratio = median(
            rounds
                .iter()
                .zip(reference)
                .map(|(mine, theirs)| mine.median_ns / theirs.median_ns)
                .collect(),
        );
        let _ = writeln!(
            out,
            "{:<32} {:>10} {:>21.2}× {:>14} {:>12} {:>7}",
            name,
            duration(median(rounds.iter().map(|r| r.median_ns).collect())),
            ratio,
            duration(median(rounds.iter().map(|r| r.cpu_ns_per_call).collect())),
            connections,
            rounds.iter().map(|r| r.errors).sum::<u64>(),
        );
    }
    out.push_str(
        "vs reqwest::blocking: the median of each round's ratio of medians; CPU per call: the \
         whole process's (the server runs in a child process); connections: accepted by the \
         server for that client over the run, warm-up included.\n",
    );
    out
}

/// Ratios that answer "is a persistent bridge worth it": medians of one run, one caller.
fn summary(cells: &[Cell]) -> String {
    let mut out = String::from("## Ratios (median latency, 1 caller; throughput, 16 callers)\n");
    let _ = writeln!(
        out,
        "{:<28} {:>13} {:>13} {:>13} {:>15} {:>15}",
        "workload",
        "per-call/smol",
        "per-call/t-ct",
        "per-call/t-mt",
        "reqwest/bridge",
        "16-caller tput"
    );
    let median = |kind, workload| find(cells, kind, workload, 1).map(|c| c.median_ns as f64);
    let tput = |kind, workload| find(cells, kind, workload, 16).map(|c| c.calls_per_sec);
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.1}×", a / b),
        _ => "-".into(),
    };
    for workload in Workload::ALL {
        let _ = writeln!(
            out,
            "{:<28} {:>13} {:>13} {:>13} {:>15} {:>15}",
            workload.name(),
            ratio(
                median(Kind::PerCallSmol, workload),
                median(Kind::BridgeSmol, workload)
            ),
            ratio(
                median(Kind::PerCallTokioCurrent, workload),
                median(Kind::BridgeTokioCurrent, workload)
            ),
            ratio(
                median(Kind::PerCallTokioMulti, workload),
                median(Kind::BridgeTokioMulti, workload)
            ),
            ratio(
                median(Kind::Reqwest, workload),
                median(Kind::BridgeSmol, workload)
            ),
            ratio(
                tput(Kind::BridgeSmol, workload),
                tput(Kind::Reqwest, workload)
            ),
        );
    }
    out.push_str(
        "per-call/X: how many times slower a runtime per call is than the persistent bridge on \
         runtime X; reqwest/bridge: the reqwest::blocking pattern's median over the smol \
         bridge's; 16-caller tput: the smol bridge's calls/s over the reqwest pattern's.\n",
    );
    out
}

fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// One JSON object per cell, as a JSON array.
pub fn json(
    cells: &[Cell],
    idles: &[Idle],
    fast: &FastPath,
    load: &Load,
    clients: &Clients,
) -> String {
    let mut out = String::from("[\n");
    for (name, rounds, connections) in &clients.figures {
        let of = |f: fn(&crate::clients::Round) -> f64| median(rounds.iter().map(f).collect());
        let _ = writeln!(
            out,
            "  {{\"strategy\": \"{}\", \"workload\": \"http_clients\", \"callers\": 1, \
             \"rounds\": {}, \"median_ns\": {:.0}, \"cpu_ns_per_call\": {:.0}, \
             \"tcp_connections\": {}, \"calls\": {}, \"errors\": {}}},",
            name,
            clients.rounds,
            of(|r| r.median_ns),
            of(|r| r.cpu_ns_per_call),
            connections,
            rounds.iter().map(|r| r.calls).sum::<u64>(),
            rounds.iter().map(|r| r.errors).sum::<u64>(),
        );
    }
    for (kind, rounds) in &load.figures {
        let of = |f: fn(&crate::load::Round) -> f64| median(rounds.iter().map(f).collect());
        let _ = writeln!(
            out,
            "  {{\"strategy\": \"{}\", \"workload\": \"load\", \"callers\": 1, \
             \"rounds\": {}, \"alone_ns\": {:.0}, \"parked_ns\": {:.0}, \
             \"paced_cpu_percent\": {:.1}, \"paced_ns\": {:.0}, \"fresh_paced_cpu_percent\": \
             {:.1}, \"fresh_paced_ns\": {:.0}, \"loaded_ns\": {:.0}}},",
            kind.name(),
            load.rounds,
            of(|r| r.alone_ns),
            of(|r| r.parked_ns),
            of(|r| r.paced_cpu_percent),
            of(|r| r.paced_ns),
            of(|r| r.fresh_cpu_percent),
            of(|r| r.fresh_ns),
            of(|r| r.loaded_ns),
        );
    }
    for (kind, medians) in &fast.medians {
        let ns: Vec<f64> = medians.iter().map(|d| d.as_nanos() as f64).collect();
        let crowd = fast
            .sixteen
            .iter()
            .find(|(k, _)| Some(*k) == *kind)
            .map_or("null".to_owned(), |(_, s)| {
                format!("{:.1}", median(s.clone()))
            });
        let _ = writeln!(
            out,
            "  {{\"strategy\": \"{}\", \"workload\": \"fast_path\", \"callers\": 1, \
             \"rounds\": {}, \"median_ns\": {:.0}, \"crowd_callers\": {}, \
             \"crowd_calls_per_sec\": {}}},",
            kind.map_or("spin-handoff floor", Kind::name),
            fast.rounds,
            median(ns),
            crate::CROWD,
            crowd
        );
    }
    for (i, c) in cells.iter().enumerate() {
        let error = match &c.first_error {
            Some(e) => format!("\"{}\"", escape(e)),
            None => "null".into(),
        };
        let _ = write!(
            out,
            "  {{\"strategy\": \"{}\", \"workload\": \"{}\", \"callers\": {}, \"calls\": {}, \
             \"errors\": {}, \"first_error\": {}, \"median_ns\": {}, \"p99_ns\": {}, \
             \"calls_per_sec\": {:.1}, \"cpu_ns_per_call\": {:.1}, \"threads_created\": {}, \
             \"peak_extra_fds\": {}, \"tcp_connections\": {}, \"allocs_per_call\": {:.2}}}",
            c.kind.name(),
            c.workload.key(),
            c.callers,
            c.calls,
            c.errors,
            error,
            c.median_ns,
            c.p99_ns,
            c.calls_per_sec,
            c.cpu_ns_per_call,
            c.threads_created,
            c.peak_extra_fds,
            c.tcp_connections,
            c.allocs_per_call
        );
        out.push_str(if i + 1 < cells.len() || !idles.is_empty() {
            ",\n"
        } else {
            "\n"
        });
    }
    for (i, idle) in idles.iter().enumerate() {
        let _ = write!(
            out,
            "  {{\"strategy\": \"{}\", \"workload\": \"idle\", \"callers\": 0, \
             \"settle_ms\": {}, \"window_ms\": {}, \"idle_cpu_percent\": {:.3}}}",
            idle.kind.name(),
            idle.settle.as_millis(),
            idle.window.as_millis(),
            idle.cpu_percent
        );
        out.push_str(if i + 1 < idles.len() { ",\n" } else { "\n" });
    }
    out.push(']');
    out
}

/// Median latency per strategy, one caller, a panel per workload, on a log scale.
pub fn svg(cells: &[Cell]) -> String {
    const WIDTH: f64 = 960.0;
    const LABEL: f64 = 190.0;
    const BAR: f64 = 16.0;
    const GAP: f64 = 4.0;
    const PANEL_HEAD: f64 = 30.0;
    let rows = Kind::ALL.len() as f64;
    let panel = PANEL_HEAD + rows * (BAR + GAP) + 16.0;
    let height = 60.0 + panel * Workload::ALL.len() as f64 + 30.0;
    let values: Vec<f64> = cells
        .iter()
        .filter(|c| c.callers == 1)
        .map(|c| c.median_ns.max(1) as f64)
        .collect();
    let lo = values
        .iter()
        .cloned()
        .fold(f64::INFINITY, f64::min)
        .max(1.0)
        .log10()
        .floor();
    let hi = values
        .iter()
        .cloned()
        .fold(1.0, f64::max)
        .log10()
        .ceil()
        .max(lo + 1.0);
    let plot = WIDTH - LABEL - 110.0;
    let x = |ns: f64| LABEL + (ns.max(1.0).log10() - lo) / (hi - lo) * plot;
    let color = |kind: Kind| match kind {
        Kind::BridgeSmol
        | Kind::BridgeTokioCurrent
        | Kind::BridgeTokioMulti
        | Kind::BridgeTokioAttached => "#2b6cb0",
        Kind::PerCallSmol | Kind::PerCallTokioCurrent | Kind::PerCallTokioMulti => "#dd6b20",
        Kind::Inline | Kind::Handoff | Kind::Reqwest => "#718096",
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = writeln!(out, "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>");
    let _ = writeln!(
        out,
        "<text x=\"16\" y=\"26\" font-size=\"17\" font-weight=\"bold\">loopbridge compare: \
         median latency per call, 1 caller (log scale, shorter is better)</text>"
    );
    let _ = writeln!(
        out,
        "<text x=\"16\" y=\"46\" fill=\"#4a5568\"><tspan fill=\"#2b6cb0\">■ loopbridge \
         persistent</tspan>  <tspan fill=\"#dd6b20\">■ runtime per call</tspan>  \
         <tspan fill=\"#718096\">■ reference patterns</tspan></text>"
    );
    for (p, workload) in Workload::ALL.into_iter().enumerate() {
        let top = 60.0 + p as f64 * panel;
        let _ = writeln!(
            out,
            "<text x=\"16\" y=\"{}\" font-weight=\"bold\">{}</text>",
            top + 20.0,
            workload.name()
        );
        for decade in (lo as i32)..=(hi as i32) {
            let gx = x(10f64.powi(decade));
            let _ = writeln!(
                out,
                "<line x1=\"{gx:.1}\" y1=\"{}\" x2=\"{gx:.1}\" y2=\"{}\" stroke=\"#e2e8f0\"/>\
                 <text x=\"{gx:.1}\" y=\"{}\" fill=\"#a0aec0\" text-anchor=\"middle\" \
                 font-size=\"10\">{}</text>",
                top + PANEL_HEAD - 4.0,
                top + panel - 14.0,
                top + panel - 3.0,
                decade_label(decade)
            );
        }
        for (r, kind) in Kind::ALL.into_iter().enumerate() {
            let Some(c) = find(cells, kind, workload, 1) else {
                continue;
            };
            let y = top + PANEL_HEAD + r as f64 * (BAR + GAP);
            let end = x(c.median_ns as f64);
            let _ = writeln!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
                 <rect x=\"{LABEL}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{BAR}\" fill=\"{}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#2d3748\">{}</text>",
                LABEL - 8.0,
                y + BAR - 4.0,
                kind.name(),
                (end - LABEL).max(1.0),
                color(kind),
                end + 6.0,
                y + BAR - 4.0,
                duration(c.median_ns as f64)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}
