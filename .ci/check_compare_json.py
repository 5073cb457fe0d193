"""Checks `compare --quick --json` output: valid JSON, one object per cell, covering every
strategy, workload and caller count. It checks no speed."""
import json
import sys

STRATEGIES = {
    "loopbridge smol", "loopbridge tokio-ct", "loopbridge tokio-mt",
    "per-call smol", "per-call tokio-ct", "per-call tokio-mt",
    "block_on inline", "raw thread handoff", "reqwest::blocking pattern",
}
WORKLOADS = {"ready", "timer_1ms", "tcp_echo", "http_get"}
CALLERS = {1, 4, 16}
FIELDS = {"calls", "errors", "median_ns", "p99_ns", "calls_per_sec", "cpu_ns_per_call",
          "threads_created", "peak_extra_fds", "tcp_connections", "allocs_per_call"}

objects = json.load(open(sys.argv[1]))
cells = [o for o in objects
         if o["workload"] not in ("idle", "fast_path", "load", "http_clients")]
clients = {o["strategy"]: o for o in objects if o["workload"] == "http_clients"}
assert {"reqwest::blocking", "loopbridge tokio-ct + reqwest",
        "loopbridge tokio-mt + reqwest"} <= clients.keys(), clients.keys()
for name, client in clients.items():
    assert client["calls"] > 0 and client["errors"] == 0, f"{name}: {client}"
    assert {"median_ns", "cpu_ns_per_call", "tcp_connections"} <= client.keys(), client
load = {o["strategy"] for o in objects if o["workload"] == "load"}
assert {"loopbridge smol", "loopbridge tokio-ct", "reqwest::blocking pattern"} <= load, load
fast = {o["strategy"] for o in objects if o["workload"] == "fast_path"}
assert {"spin-handoff floor", "loopbridge smol", "loopbridge tokio-mt", "loopbridge tokio-attached",
        "reqwest::blocking pattern"} <= fast, fast
idle = {o["strategy"] for o in objects if o["workload"] == "idle"}
for strategy in ("loopbridge smol", "loopbridge tokio-ct", "loopbridge tokio-mt",
                 "raw thread handoff", "reqwest::blocking pattern"):
    assert strategy in idle, f"no idle-cost object for {strategy}"
    assert "idle_cpu_percent" in next(o for o in objects
                                      if o["workload"] == "idle" and o["strategy"] == strategy)
seen = {(c["strategy"], c["workload"], c["callers"]) for c in cells}
missing = {(s, w, n) for s in STRATEGIES for w in WORKLOADS for n in CALLERS} - seen
assert not missing, f"cells missing from the JSON: {sorted(missing)}"
for cell in cells:
    absent = FIELDS - cell.keys()
    assert not absent, f"{cell['strategy']} / {cell['workload']}: no {sorted(absent)}"
    assert cell["calls"] > 0, f"{cell['strategy']} / {cell['workload']}: no call measured"
print(f"compare --json: {len(cells)} cells and {len(idle)} idle costs, every strategy, "
      "workload and caller count present")
