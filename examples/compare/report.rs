//! The table, the JSON and the SVG chart.

use std::fmt::Write;

use crate::{
    CALLERS, Cell, FastPath, Idle, Report,
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

fn find(cells: &[Cell], kind: Kind, workload: Workload, callers: usize) -> Option<&Cell> {
    cells
        .iter()
        .find(|c| c.kind == kind && c.workload == workload && c.callers == callers)
}

/// The human-readable report: a section per workload and caller count, then ratios.
pub fn table(report: &Report, budget: std::time::Duration) -> String {
    let Report {
        cells,
        idles,
        fast,
        load,
        clients,
        cancels,
    } = report;
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
    out.push_str(&caller_goals(cells, fast, clients));
    out.push_str(&under_load(load));
    out.push_str(&http_clients(clients));
    out.push_str(&cancel_latency(cancels));
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

pub fn median(mut values: Vec<f64>) -> f64 {
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
    for kind in crate::FAST_KINDS
        .into_iter()
        .filter(|&kind| kind != Kind::Reqwest)
    {
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

/// The figures of caller-driven calls against a static runtime's `block_on` (and, for I/O,
/// against `block_on` inline, a runtime per caller thread), with their goals: per-round ratios
/// where the figure comes in rounds (the fast path, the HTTP clients), the cell's ratio where
/// it comes from the table. The runtime-driven bridges are beside them for reference.
fn caller_goals(cells: &[Cell], fast: &FastPath, clients: &Clients) -> String {
    let columns: [(&str, Kind, Option<&str>); 8] = [
        ("caller smol", Kind::CallerSmol, None),
        (
            "caller t-ct",
            Kind::CallerTokioCurrent,
            Some("caller-driven tokio-ct + reqwest"),
        ),
        (
            "caller t-mt",
            Kind::CallerTokioMulti,
            Some("caller-driven tokio-mt + reqwest"),
        ),
        ("caller t-att", Kind::CallerTokioAttached, None),
        ("runtime smol", Kind::BridgeSmol, None),
        (
            "runtime t-ct",
            Kind::BridgeTokioCurrent,
            Some("loopbridge tokio-ct + reqwest"),
        ),
        (
            "runtime t-mt",
            Kind::BridgeTokioMulti,
            Some("loopbridge tokio-mt + reqwest"),
        ),
        ("runtime t-att", Kind::BridgeTokioAttached, None),
    ];
    let per_round = |mine: &[f64], theirs: &[f64]| {
        if mine.is_empty() || theirs.is_empty() {
            return f64::NAN;
        }
        median(mine.iter().zip(theirs).map(|(m, t)| m / t).collect())
    };
    let round_trips = |kind: Kind| -> Vec<f64> {
        fast.medians
            .iter()
            .find(|(k, _)| *k == Some(kind))
            .map(|(_, m)| m.iter().map(|d| d.as_nanos() as f64).collect())
            .unwrap_or_default()
    };
    let sixteen = |kind: Kind| -> Vec<f64> {
        fast.sixteen
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    };
    let client = |name: &str| -> Vec<crate::clients::Round> {
        clients
            .figures
            .iter()
            .find(|(n, ..)| *n == name)
            .map(|(_, rounds, _)| rounds.clone())
            .unwrap_or_default()
    };
    let cell = |kind: Kind, workload: Workload, callers: usize, f: fn(&Cell) -> f64| {
        find(cells, kind, workload, callers).map_or(f64::NAN, f)
    };
    let stat = Kind::StaticBlockOn;
    let static_client = client("static runtime + reqwest");
    /// A row's ratio for a column's strategy (and HTTP client, where it has one).
    type Ratio<'a> = Box<dyn Fn(Kind, Option<&str>) -> f64 + 'a>;
    type Row<'a> = (&'a str, &'a str, Ratio<'a>);
    let rows: Vec<Row<'_>> = vec![
        (
            "ready future, 1 caller: round trip",
            "≤ 3×",
            Box::new(|kind, _| per_round(&round_trips(kind), &round_trips(stat))),
        ),
        (
            "ready future, 16 callers: calls/s",
            "≥ 0.5×",
            Box::new(|kind, _| per_round(&sixteen(kind), &sixteen(stat))),
        ),
        (
            "20 µs of CPU work, 16 callers: calls/s",
            "≥ 0.8×",
            Box::new(|kind, _| {
                let tput = |c: &Cell| c.calls_per_sec;
                cell(kind, Workload::Cpu, 16, tput) / cell(stat, Workload::Cpu, 16, tput)
            }),
        ),
        (
            "GET, reqwest async, 1 caller: latency",
            "≤ 1.0×",
            Box::new(|_, name| {
                let mine: Vec<f64> =
                    name.map_or(vec![], |n| client(n).iter().map(|r| r.median_ns).collect());
                per_round(
                    &mine,
                    &static_client
                        .iter()
                        .map(|r| r.median_ns)
                        .collect::<Vec<_>>(),
                )
            }),
        ),
        (
            "GET, reqwest async, 4 callers: calls/s",
            "≥ 1.0×",
            Box::new(|_, name| {
                let mine: Vec<f64> = name.map_or(vec![], |n| {
                    client(n).iter().map(|r| r.four_calls_per_sec).collect()
                });
                let theirs: Vec<f64> = static_client.iter().map(|r| r.four_calls_per_sec).collect();
                per_round(&mine, &theirs)
            }),
        ),
    ];
    let cpu: fn(&Cell) -> f64 = |c| c.cpu_ns_per_call;
    let tput: fn(&Cell) -> f64 = |c| c.calls_per_sec;
    // A cell's figure over `block_on` inline's in the same cell.
    let over_inline = |workload: Workload, callers: usize, f: fn(&Cell) -> f64| -> Ratio<'_> {
        Box::new(move |kind, _| {
            cell(kind, workload, callers, f) / cell(Kind::Inline, workload, callers, f)
        })
    };
    let inline_rows: Vec<Row<'_>> = vec![
        (
            "HTTP GET, 1 caller: CPU per call",
            "≤ 1.1×",
            over_inline(Workload::Http, 1, cpu),
        ),
        (
            "HTTP GET, 16 callers: calls/s",
            "≥ 1.0×",
            over_inline(Workload::Http, 16, tput),
        ),
        (
            "TCP echo, 4 callers: calls/s",
            "≥ 1.0×",
            over_inline(Workload::TcpEcho, 4, tput),
        ),
        (
            "TCP echo, 4 callers: CPU per call",
            "≤ 1.1×",
            over_inline(Workload::TcpEcho, 4, cpu),
        ),
    ];
    let mut out = String::from(
        "\n## Drive::Caller: each figure over a static tokio runtime's block_on (goals for the caller-driven columns)\n",
    );
    let header = |out: &mut String| {
        let _ = write!(out, "{:<40} {:>7}", "figure", "goal");
        for (name, ..) in &columns {
            let _ = write!(out, " {name:>13}");
        }
        out.push('\n');
    };
    let body = |out: &mut String, rows: &[Row<'_>]| {
        for (figure, goal, ratio) in rows {
            let _ = write!(out, "{figure:<40} {goal:>7}");
            for (_, kind, client) in &columns {
                let value = ratio(*kind, *client);
                if value.is_nan() {
                    let _ = write!(out, " {:>13}", "–");
                } else {
                    let _ = write!(out, " {:>12.2}×", value);
                }
            }
            out.push('\n');
        }
    };
    header(&mut out);
    body(&mut out, &rows);
    out.push_str("\nthe same columns over block_on inline (a tokio current_thread runtime per caller thread), from the table:\n");
    header(&mut out);
    body(&mut out, &inline_rows);
    out.push_str(
        "ratios: the median of per-round ratios for the fast path and the HTTP clients, the \
         cells' ratio for the others; \"–\": not measured for that strategy.\n",
    );
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
        "\n## Real HTTP clients: keep-alive GETs from one caller (and four), same server, {} interleaved rounds\n",
        clients.rounds
    );
    let Some((_, reference, _)) = clients.figures.first() else {
        return out;
    };
    let _ = writeln!(
        out,
        "{:<32} {:>10} {:>22} {:>14} {:>18} {:>12} {:>7}",
        "client",
        "median",
        "vs reqwest::blocking",
        "CPU per call",
        "4 callers, calls/s",
        "connections",
        "errors"
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
            "{:<32} {:>10} {:>21.2}× {:>14} {:>18.0} {:>12} {:>7}",
            name,
            duration(median(rounds.iter().map(|r| r.median_ns).collect())),
            ratio,
            duration(median(rounds.iter().map(|r| r.cpu_ns_per_call).collect())),
            median(rounds.iter().map(|r| r.four_calls_per_sec).collect()),
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

/// How long a cancelled call took to return after its token was cancelled.
fn cancel_latency(cancels: &[crate::cancel::Figures]) -> String {
    let mut out = String::from(
        "\n## Cancellation: from CancelToken::cancel on another thread to the blocked call's return\n",
    );
    for figures in cancels {
        let _ = writeln!(
            out,
            "{:<28} median {:>9}, p99 {:>9} ({} cancels)",
            figures.kind.name(),
            duration(figures.median_ns as f64),
            duration(figures.p99_ns as f64),
            figures.trials,
        );
    }
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

/// Median latency per strategy, one caller, a panel per workload, on a log scale, drawn with
/// plotters' SVG backend.
pub fn svg(cells: &[Cell]) -> String {
    use plotters::prelude::*;

    const BLUE: RGBColor = RGBColor(0x2b, 0x6c, 0xb0);
    const ORANGE: RGBColor = RGBColor(0xdd, 0x6b, 0x20);
    const GREY: RGBColor = RGBColor(0x71, 0x80, 0x96);
    const GREEN: RGBColor = RGBColor(0x2f, 0x85, 0x5a);
    let color = |kind: Kind| match kind {
        Kind::BridgeSmol
        | Kind::BridgeTokioCurrent
        | Kind::BridgeTokioMulti
        | Kind::BridgeTokioAttached => BLUE,
        Kind::CallerSmol
        | Kind::CallerTokioCurrent
        | Kind::CallerTokioMulti
        | Kind::CallerTokioAttached => GREEN,
        Kind::PerCallSmol | Kind::PerCallTokioCurrent | Kind::PerCallTokioMulti => ORANGE,
        Kind::Inline | Kind::Handoff | Kind::Reqwest | Kind::StaticBlockOn => GREY,
    };
    let medians: Vec<f64> = cells
        .iter()
        .filter(|c| c.callers == 1)
        .map(|c| c.median_ns.max(1) as f64)
        .collect();
    // Whole decades around the medians.
    let lo = 10f64.powf(
        medians
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .log10()
            .floor(),
    );
    let hi = 10f64
        .powf(medians.iter().copied().fold(1.0, f64::max).log10().ceil())
        .max(lo * 10.0);
    let rows = Kind::ALL.len();
    let panel = 44 + 20 * rows as u32;
    let size = (960, 70 + panel * Workload::ALL.len() as u32);

    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).expect("draw");
        let title =
            "loopbridge compare: median latency per call, 1 caller (log scale, shorter is better)";
        root.draw_text(
            title,
            &("sans-serif", 17).into_font().color(&BLACK),
            (16, 12),
        )
        .expect("draw");
        for (i, (label, color)) in [
            ("loopbridge persistent", BLUE),
            ("runtime per call", ORANGE),
            ("reference patterns", GREY),
        ]
        .into_iter()
        .enumerate()
        {
            let x = 16 + 200 * i as i32;
            root.draw(&Rectangle::new([(x, 38), (x + 12, 50)], color.filled()))
                .expect("draw");
            root.draw_text(
                label,
                &("sans-serif", 12).into_font().color(&color),
                (x + 18, 38),
            )
            .expect("draw");
        }
        let (_, body) = root.split_vertically(60);
        for (area, workload) in body
            .split_evenly((Workload::ALL.len(), 1))
            .iter()
            .zip(Workload::ALL)
        {
            let mut chart = ChartBuilder::on(area)
                .caption(
                    workload.name(),
                    ("sans-serif", 13).into_font().style(FontStyle::Bold),
                )
                .margin_right(24)
                .x_label_area_size(18)
                .y_label_area_size(190)
                .build_cartesian_2d((lo..hi).log_scale(), (0..rows).into_segmented())
                .expect("chart");
            // The first strategy on top.
            let row = |r: usize| rows - 1 - r;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .light_line_style(WHITE)
                .y_labels(rows)
                .y_label_formatter(&|value| match value {
                    SegmentValue::CenterOf(r) if *r < rows => Kind::ALL[row(*r)].name().to_owned(),
                    _ => String::new(),
                })
                .x_label_formatter(&|ns| duration(*ns))
                .label_style(("sans-serif", 11))
                .draw()
                .expect("mesh");
            let bars = Kind::ALL.into_iter().enumerate().filter_map(|(r, kind)| {
                let cell = find(cells, kind, workload, 1)?;
                let end = (cell.median_ns.max(1) as f64).max(lo);
                let mut bar = Rectangle::new(
                    [
                        (lo, SegmentValue::Exact(row(r))),
                        (end, SegmentValue::Exact(row(r) + 1)),
                    ],
                    color(kind).filled(),
                );
                bar.set_margin(2, 2, 0, 0);
                Some(bar)
            });
            chart.draw_series(bars).expect("bars");
        }
        root.present().expect("write the SVG");
    }
    out
}
