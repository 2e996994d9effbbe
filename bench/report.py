#!/usr/bin/env python3
"""Writes BENCHMARKS.md from the results of bench/run.sh (bench/out/) and criterion's
estimates (target/criterion/). Standard library only; run by bench/run.sh."""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
from pathlib import Path

# Requests in the second `core/benches/fleet.rs` flushes.
FLEET_PER_SECOND = 10_000

GOALS = {
    "select_ns": 50.0,
    "rule_added_ns": 10.0,
    "rust_ratio": 0.95,
    "cpu_added_us": 2.0,
    "py_sync": 25.0,
    "py_async": 5.0,
    "py_litellm_seq": 100.0,
    "py_litellm_async": 150.0,
    "node": 12.0,
    "fleet_flush_us": 0.5,
    "propagation_p99_ms": 100.0,
    "ttfc_us": 50.0,
    "failover_p99_ms": 2.0,
    "rss_mb": 5.0,
}


def load_jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    rows = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return rows


def facts(out: Path) -> dict[str, str]:
    d: dict[str, str] = {}
    p = out / "facts.txt"
    if p.exists():
        for line in p.read_text().splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                d[k] = v
    return d


def criterion(target: Path) -> dict[tuple[str, str], dict]:
    """(group, function) -> estimates of the latest run."""
    found = {}
    root = target / "criterion"
    if not root.exists():
        return found
    for dirpath, _dirs, files in os.walk(root):
        if Path(dirpath).name != "new" or "benchmark.json" not in files:
            continue
        try:
            bench = json.loads((Path(dirpath) / "benchmark.json").read_text())
            est = json.loads((Path(dirpath) / "estimates.json").read_text())
        except (OSError, json.JSONDecodeError):
            continue
        found[(bench.get("group_id"), bench.get("function_id"))] = est
    return found


def criterion_table(w, first: str, estimates: dict[str, dict], fmt: str) -> None:
    """A table of criterion estimates (ns): median, its 95 % CI and the mean per function,
    or "not run"; then a blank line."""
    if not estimates:
        w("not run")
        w("")
        return
    w(f"| {first} | median | 95 % CI | mean |")
    w("|---|---|---|---|")
    for fn, e in sorted(estimates.items()):
        m, ci = e["median"], e["median"]["confidence_interval"]
        w(
            f"| {fn} | {fmt.format(m['point_estimate'])} ns | "
            f"{fmt.format(ci['lower_bound'])}–{fmt.format(ci['upper_bound'])} ns | "
            f"{fmt.format(e['mean']['point_estimate'])} ns |"
        )
    w("")


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    """'median (min–max, n=N)'."""
    values = [v for v in values if v is not None and not math.isnan(v)]
    if not values:
        return "—"
    med = statistics.median(values)
    if len(values) == 1:
        return fmt.format(med) + " (n=1)"
    return f"{fmt.format(med)} ({fmt.format(min(values))}–{fmt.format(max(values))}, n={len(values)})"


def cpu_added(rows: list[dict]) -> list[float]:
    """Client CPU per request that turnout adds over raw reqwest, per paired round (µs)."""
    return [r["turnout_cpu_us"] - r["raw_cpu_us"] for r in rows]


def med(values: list[float]) -> float | None:
    values = [v for v in values if v is not None and not math.isnan(v)]
    return statistics.median(values) if values else None


def verdict(value: float | None, goal: float, higher_is_better: bool) -> str:
    if value is None:
        return "not measured"
    ok = value >= goal if higher_is_better else value <= goal
    return "**met**" if ok else "**missed**"


PROXY_ROUTES = {
    "turnout": "turnout in-process",
    "direct": "straight to the upstream (floor)",
    "portkey": "Portkey's gateway",
    "litellm": "LiteLLM's proxy",
}


def proxy_hop(rows: list[dict], lang: str, mode: str, via: str) -> dict[str, list[float]]:
    """Per round: turnout's calls/s over `via`'s, and the p50/p99 `via` adds over turnout's."""
    by_round: dict[int, dict[str, dict]] = {}
    for r in rows:
        if r.get("lang") == lang and r.get("mode") == mode and "round" in r:
            by_round.setdefault(r["round"], {})[r["via"]] = r
    out: dict[str, list[float]] = {"ratio": [], "added_p50": [], "added_p99": []}
    for rnd in by_round.values():
        t, v = rnd.get("turnout"), rnd.get(via)
        if not t or not v or not v["calls_per_s"] or t["p50_us"] is None or v["p50_us"] is None:
            continue
        out["ratio"].append(t["calls_per_s"] / v["calls_per_s"])
        out["added_p50"].append(v["p50_us"] - t["p50_us"])
        out["added_p99"].append(v["p99_us"] - t["p99_us"])
    return out


def proxy_section(w, rows: list[dict], versions: dict[str, str]) -> None:
    """The proxy hop: each language's table, sequential and concurrent."""
    w("## The proxy hop")
    w("")
    if not rows:
        w("not run")
        w("")
        return
    w(
        "The official SDKs through a proxy process on loopback (Portkey's gateway "
        f"{versions.get('portkey', '')}, LiteLLM's proxy {versions.get('litellm', '')}) against the "
        "same SDK with turnout in-process (`HttpxTransport` in Python, `client.fetch` in Node), "
        "all in front of the same simulator. Every route has two deployments on it, half the "
        "calls each, retries on; *direct* is the SDK straight to the simulator, no routing (the "
        "floor). Each round measures every route in turn (order rotating): one caller in a loop "
        "(*sequential*), then N callers (*concurrent*). *turnout ÷ route* is turnout's calls/s "
        "over the route's in the same round; *added* is the route's latency minus turnout's. "
        "The proxies share the machine's two cores with the client and the simulator, as a "
        "sidecar would. Scripts: `bench/proxy_bench.py`, `bench/proxy_bench.mjs`; proxies' "
        "configuration: `bench/litellm_proxy.yaml` and the `x-portkey-config` in the scripts."
    )
    w("")
    for lang, title in (("python", "openai-python"), ("node", "openai-node")):
        lrows = [r for r in rows if r.get("lang") == lang]
        w(f"### {title}")
        w("")
        if not lrows:
            w("not run")
            w("")
            continue
        client = next((r["client"] for r in lrows if "client" in r), title)
        errors = [r for r in lrows if "error" in r]
        for r in errors:
            w(f"- {PROXY_ROUTES.get(r['via'], r['via'])}: **failed** — `{r['error']}`")
        if errors:
            w("")
        for mode in ("sequential", "concurrent"):
            mrows = [r for r in lrows if r.get("mode") == mode]
            if not mrows:
                continue
            c = mrows[0]["concurrency"]
            w(f"{client}, {mode} (concurrency {c}); median over rounds (min–max, n):")
            w("")
            w("| route | calls/s | p50 µs | p99 µs | turnout ÷ route | added p50 µs | added p99 µs |")
            w("|---|---|---|---|---|---|---|")
            for via in PROXY_ROUTES:
                vr = [r for r in mrows if r["via"] == via]
                if not vr:
                    continue
                hop = proxy_hop(rows, lang, mode, via)
                cells = (
                    ["—", "—", "—"]
                    if via == "turnout"
                    else [
                        f"{spread(hop['ratio'], '{:.2f}')}×",
                        spread(hop["added_p50"], "{:.0f}"),
                        spread(hop["added_p99"], "{:.0f}"),
                    ]
                )
                w(
                    f"| {PROXY_ROUTES[via]} | {spread([r['calls_per_s'] for r in vr], '{:.0f}')} | "
                    f"{spread([r['p50_us'] for r in vr], '{:.0f}')} | "
                    f"{spread([r['p99_us'] for r in vr], '{:.0f}')} | " + " | ".join(cells) + " |"
                )
            w("")


def layers_section(w, rows: list[dict]) -> None:
    """Where a sequential Python call's time goes (bench/layers.py)."""
    w("## Where a sequential Python call's time goes")
    w("")
    if not rows:
        w("not run")
        w("")
        return
    r = rows[-1]
    w(
        "One chat completion at a time on the simulator, through layers (`bench/layers.py`; "
        "p50 of every call, µs). The Rust rows are the sequential requests of the failover step."
    )
    w("")
    w("| layer | p50 µs |")
    w("|---|---|")
    for key, label in [
        ("raw_socket_p50_us", "raw socket from Python: pre-built request, kept-alive connection"),
        ("rust_raw_p50_us", "Rust, raw reqwest"),
        ("rust_turnout_p50_us", "Rust, turnout"),
        ("binding_crossing_p50_us", "binding crossing: a native call doing almost nothing"),
        ("python_turnout_p50_us", "Python, turnout `chat.completions.create`"),
    ]:
        if key in r:
            w(f"| {label} | {r[key]:.2f} |")
    w("")
    if "split_core_us" in r:
        total = r["python_turnout_p50_us"]
        parts = [
            ("network and upstream (raw reqwest)", r["split_network_upstream_us"]),
            ("turnout's core (Rust turnout − raw reqwest)", r["split_core_us"]),
            ("Python side: binding and package (Python call − Rust turnout)", r["split_python_side_us"]),
        ]
        w("| share of the Python call | µs | % |")
        w("|---|---|---|")
        for label, v in parts:
            w(f"| {label} | {v:.1f} | {100 * v / total:.0f} % |")
        w("")


def fleet_rows(w, crit: dict, rows: list[dict]) -> None:
    """The fleet's rows of the headline: the amortised cost of the fleet counts per request
    (criterion, `core/benches/fleet.rs`) and a CLI change's propagation (`cli/tests/fleet.rs`)."""
    record = crit.get(("fleet", "record one request"))
    flush = next((e for (g, f), e in crit.items() if g == "fleet" and f.startswith("flush") and "redis" in f), None)
    if record and flush:
        rec_ns = record["median"]["point_estimate"]
        flush_us = flush["median"]["point_estimate"] / 1000.0
        per_request = rec_ns / 1000.0 + flush_us / FLEET_PER_SECOND
        w(
            f"| the fleet's counts: record + flush to Redis, per request amortised (a second of "
            f"{FLEET_PER_SECOND} requests) | — | ≤ 0.5 µs | {per_request:.3f} µs (record {rec_ns:.0f} ns; "
            f"flush {flush_us / 1000:.2f} ms per second) | {verdict(per_request, GOALS['fleet_flush_us'], False)} |"
        )
    else:
        w("| the fleet's counts: record + flush to Redis, per request amortised | — | ≤ 0.5 µs | not run | not measured |")
    prop = next((r for r in rows if r.get("measurement") == "propagation"), None)
    if prop:
        w(
            f"| a CLI change (`turnout set-weight`) reaching every process: {prop['processes']} OS "
            f"processes, {prop['changes']} changes, from the command's start | — | p99 ≤ 100 ms | "
            f"p50 {prop['p50_ms']:.1f} ms, p99 {prop['p99_ms']:.1f} ms, max {prop['max_ms']:.1f} ms | "
            f"{verdict(prop['p99_ms'], GOALS['propagation_p99_ms'], False)} |"
        )
    else:
        w("| a CLI change reaching 20 processes | — | p99 ≤ 100 ms | not run | not measured |")


def lean_section(w, rows: list[dict], before: list[dict]) -> None:
    """Lean builds (bench/lean.sh): this run's tree, and the tree before the feature split."""
    w("## Lean builds (bench/lean.sh)")
    w("")
    if not rows:
        w("not run")
        w("")
        return
    w(
        "The core crate alone, built for release from nothing (a fresh target directory, every "
        "dependency compiled), and the packages it depends on (normal edges, distinct packages); "
        "then the wheel and the Node module as built for users (this run: the `dist` profile, "
        "fat LTO and no debug info; before the split: the release profile, line tables kept in "
        "the wheel, debug info stripped from the Node module). The bindings enable every "
        "feature (and `otel`), so the feature split does not shrink them."
    )
    w("")
    w("| tree | features | dependencies | cold release build | wheel | .node |")
    w("|---|---|---|---|---|---|")

    def mb(v: str | None) -> str:
        return f"{int(v) / 1e6:.1f} MB" if v else "—"

    for label, group in (("before the split", before), ("this run", rows)):
        sizes = next((r for r in group if "wheel_bytes" in r), {})
        for r in group:
            if "features" not in r:
                continue
            first = r["features"] == "default"
            w(
                f"| {label}, `{r['tree']}` | {r['features']} | {r['deps']} | {r['cold_build_s']} s | "
                f"{mb(sizes.get('wheel_bytes')) if first else '—'} | {mb(sizes.get('node_bytes')) if first else '—'} |"
            )
    if before:
        w("")
        w(
            "*Before the split* was measured by `bash bench/lean.sh --rev REV` on the commit before "
            "the features landed (its output kept in `bench/lean-before.jsonl`), on this machine with "
            "nothing else running, not in this run: compare the counts exactly and the times roughly."
        )
    w("")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench/out")
    ap.add_argument("--target", default="target")
    ap.add_argument("--write", default="BENCHMARKS.md")
    args = ap.parse_args()
    out, target = Path(args.out), Path(args.target)
    f = facts(out)
    crit = criterion(target)
    tp_sim = load_jsonl(out / "throughput_sim.jsonl")
    tp_ngx = load_jsonl(out / "throughput_nginx.jsonl")
    # The Rust paired rounds: (build, upstream, rounds), the release build first.
    rust_runs = [
        ("release", "simulator", tp_sim),
        ("release", "nginx", tp_ngx),
        ("dist (fat LTO)", "simulator", load_jsonl(out / "throughput_sim_lto.jsonl")),
        ("dist (fat LTO)", "nginx", load_jsonl(out / "throughput_nginx_lto.jsonl")),
    ]
    ttfc = load_jsonl(out / "ttfc.jsonl")
    fo = load_jsonl(out / "failover.jsonl")
    instr = {r["client"]: r for r in load_jsonl(out / "instructions.jsonl")}
    rss_rust = load_jsonl(out / "rss_rust.jsonl")
    rss_py = load_jsonl(out / "rss_python.jsonl")
    py_txt = (out / "python.txt").read_text() if (out / "python.txt").exists() else ""
    node_txt = (out / "node.txt").read_text() if (out / "node.txt").exists() else ""
    py_rows = load_jsonl(out / "python.txt")
    node_rows = load_jsonl(out / "node.txt")
    proxy_rows = load_jsonl(out / "proxy_python.jsonl") + load_jsonl(out / "proxy_node.jsonl")
    proxy_versions: dict[str, str] = {}
    if (out / "proxy_versions.txt").exists():
        for line in (out / "proxy_versions.txt").read_text().splitlines():
            if "=" in line:
                k, v = line.split("=", 1)
                proxy_versions[k] = v

    L: list[str] = []
    w = L.append
    w("# Benchmarks")
    w("")
    w(
        "Written by `make bench` (`bench/run.sh`, then `bench/report.py`); every figure below "
        "comes from that one run. The machines are shared and noisy, so what matters is each "
        "**ratio against its peer measured in the same run, interleaved** — absolute numbers "
        "move from run to run."
    )
    w("")
    w("## Machine")
    w("")
    w("| | |")
    w("|---|---|")
    for k, label in [
        ("date", "date"),
        ("nproc", "nproc"),
        ("cpu", "CPU"),
        ("mem", "memory"),
        ("os", "OS"),
        ("kernel", "kernel"),
        ("rustc", "rustc"),
        ("nginx", "nginx"),
        ("loadavg", "load average at start"),
        ("bench_seconds", "`make bench` wall time (s)"),
        ("failed_steps", "steps that failed"),
    ]:
        if k in f:
            w(f"| {label} | {f[k]} |")
    w("")

    # --- headline ---------------------------------------------------------------------------
    sel = {fn: est for (g, fn), est in crit.items() if g == "select"}
    rust_ratio_sim = [r["ratio"] for r in tp_sim]
    rust_ratio_ngx = [r["ratio"] for r in tp_ngx]
    rust_url_sim = [r["ratio_url"] for r in tp_sim if "ratio_url" in r]
    rust_url_ngx = [r["ratio_url"] for r in tp_ngx if "ratio_url" in r]
    ttfc_url_p50 = [r["added_url_p50_us"] for r in ttfc if "added_url_p50_us" in r]
    ttfc_p50 = [r["added_p50_us"] for r in ttfc]
    ttfc_p99 = [r["added_p99_us"] for r in ttfc]
    fo_p99 = [r["added_p99_us"] / 1000.0 for r in fo]
    fo_def = [r["added_p99_defaults_us"] / 1000.0 for r in fo]
    rss_r = [r["growth_kib"] / 1024.0 for r in rss_rust]
    rss_p = [r["growth_kib"] / 1024.0 for r in rss_py]

    def py_ratio(*names: str) -> list[float]:
        vals = []
        for r in py_rows + node_rows:
            if r.get("figure") in names and "ratio" in r:
                vals.append(r["ratio"])
            for k in names:
                if k in r.get("ratios", {}):
                    v = r["ratios"][k]
                    vals.extend(v if isinstance(v, list) else [v])
        return vals

    py_sync = py_ratio("python_sync")
    py_async = py_ratio("python_async")
    py_litellm_sync = py_ratio("python_litellm_sync")
    py_litellm_async = py_ratio("python_litellm_async")
    # Node: the ratio of each round (bench/node_bench.mjs prints `round N client R req/s`).
    node_rounds: dict[str, dict[str, float]] = {}
    for line in node_txt.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0] == "round" and parts[4] == "req/s":
            node_rounds.setdefault(parts[1], {})[parts[2]] = float(parts[3])
    node_ratio = [
        r["turnout"] / r["openai-node"]
        for r in node_rounds.values()
        if r.get("openai-node") and "turnout" in r
    ]
    if not node_ratio:
        node_ratio = [r["ratio"] for r in node_rows if r.get("bench") == "node" and "ratio" in r]

    w("## Headline")
    w("")
    w("Each result: median over the runs (min–max, number of runs).")
    w("")
    w("| what | peer | goal | result | verdict |")
    w("|---|---|---|---|---|")
    for case, label in [
        ("sticky key", "routing decision: sticky key (criterion median, 95 % CI)"),
        ("random draw", "routing decision: no key, random draw"),
        ("rules miss + sticky key", "routing decision: a rule checked, then sticky key"),
    ]:
        e = sel.get(case)
        if e is None:
            w(f"| {label} | — | ≤ 50 ns | not run | not measured |")
            continue
        m = e["median"]
        ci = m["confidence_interval"]
        w(
            f"| {label} | — | ≤ 50 ns | {m['point_estimate']:.1f} ns "
            f"({ci['lower_bound']:.1f}–{ci['upper_bound']:.1f}) | "
            f"{verdict(m['point_estimate'], GOALS['select_ns'], False)} |"
        )
    sticky, rule = sel.get("sticky key"), sel.get("rules miss + sticky key")
    if sticky and rule:
        added = rule["median"]["point_estimate"] - sticky["median"]["point_estimate"]
        w(
            "| routing decision: what a rule adds over the sticky key alone (difference of the "
            f"medians) | — | ≤ 10 ns | {added:.1f} ns | {verdict(added, GOALS['rule_added_ns'], False)} |"
        )
    for upstream, vals, vals_url in [
        ("simulator", rust_ratio_sim, rust_url_sim),
        ("nginx", rust_ratio_ngx, rust_url_ngx),
    ]:
        w(
            f"| Rust, c=64, req/s — {upstream} | raw reqwest, same pool, URL string per call | ≥ 0.95× | "
            f"{spread(vals, '{:.3f}')}× | {verdict(med(vals), GOALS['rust_ratio'], True)} |"
        )
        w(
            f"| Rust, c=64, req/s — {upstream} | raw reqwest, same pool, URL parsed once | ≥ 0.95× | "
            f"{spread(vals_url, '{:.3f}')}× | {verdict(med(vals_url), GOALS['rust_ratio'], True)} |"
        )
    for build, upstream, rows in rust_runs[2:]:
        if rows:
            vals = [r["ratio"] for r in rows]
            w(
                f"| Rust, c=64, req/s — {upstream}, both built with the {build} profile | "
                f"raw reqwest, same pool, URL string per call | ≥ 0.95× | "
                f"{spread(vals, '{:.3f}')}× | {verdict(med(vals), GOALS['rust_ratio'], True)} |"
            )
    for build, upstream, rows in rust_runs:
        if rows:
            added = cpu_added(rows)
            w(
                f"| Rust, c=64: client CPU added per request — {upstream}, {build} profile | raw reqwest, "
                f"URL string per call | ≤ 2 µs | {spread(added, '{:.1f}')} µs | "
                f"{verdict(med(added), GOALS['cpu_added_us'], False)} |"
            )
    for label, vals, goal, key in [
        ("Python sync, calls/s", py_sync, "≥ 25×", "py_sync"),
        ("Python asyncio c=64", py_async, "≥ 5×", "py_async"),
        (
            "Python, two deployments, retries + fallbacks — sequential",
            py_litellm_sync,
            "≥ 100×",
            "py_litellm_seq",
        ),
        (
            "Python, two deployments, retries + fallbacks — asyncio c=64",
            py_litellm_async,
            "≥ 150×",
            "py_litellm_async",
        ),
        ("Node c=64", node_ratio, "≥ 12×", "node"),
    ]:
        peer = {
            "py_sync": "openai-python",
            "py_async": "openai-python `AsyncOpenAI`",
            "py_litellm_seq": "LiteLLM `Router`",
            "py_litellm_async": "LiteLLM `Router`",
            "node": "openai-node",
        }[key]
        res = f"{spread(vals, '{:.1f}')}×" if vals else "see below"
        w(
            f"| {label} | {peer} | {goal} | {res} | {verdict(med(vals), GOALS[key], True) if vals else 'see below'} |"  # noqa: E501
        )
    w(
        f"| streaming: time to first chunk added (p50) | raw reqwest, URL string per call | ≤ 50 µs | "
        f"{spread(ttfc_p50, '{:.1f}')} µs | {verdict(med(ttfc_p50), GOALS['ttfc_us'], False)} |"
    )
    w(
        f"| streaming: time to first chunk added (p50) | raw reqwest, URL parsed once | ≤ 50 µs | "
        f"{spread(ttfc_url_p50, '{:.1f}')} µs | {verdict(med(ttfc_url_p50), GOALS['ttfc_us'], False)} |"
    )
    w(
        f"| failover when blue refuses connections: p99 added (every request tries blue) | "
        f"turnout straight to green | ≤ 2 ms | {spread(fo_p99, '{:.3f}')} ms | "
        f"{verdict(med(fo_p99), GOALS['failover_p99_ms'], False)} |"
    )
    w(
        f"| RSS growth over {rss_rust[0]['requests'] if rss_rust else '1 M'} requests, Rust | — | ≤ 5 MB | "
        f"{spread(rss_r, '{:.2f}')} MB | {verdict(med(rss_r), GOALS['rss_mb'], False)} |"
    )
    w(
        f"| RSS growth over {rss_py[0]['requests'] if rss_py else '1 M'} requests, Python | — | ≤ 5 MB | "
        + (f"{spread(rss_p, '{:.2f}')} MB" if rss_p else "not run")
        + f" | {verdict(med(rss_p), GOALS['rss_mb'], False)} |"
    )
    for lang, sdk in (("python", "openai-python"), ("node", "openai-node")):
        for via in ("portkey", "litellm"):
            hop = proxy_hop(proxy_rows, lang, "sequential", via)
            if not hop["ratio"]:
                continue
            w(
                f"| the proxy hop: {sdk}, sequential, through {PROXY_ROUTES[via]} | {sdk} with turnout "
                f"in-process | measured | {spread(hop['ratio'], '{:.2f}')}× the calls/s in-process; "
                f"the hop adds {spread(hop['added_p50'], '{:.0f}')} µs at p50, "
                f"{spread(hop['added_p99'], '{:.0f}')} µs at p99 | — |"
            )
    fleet_rows(w, crit, load_jsonl(out / "fleet.jsonl"))
    w("")
    w('Reproduce: `make bench` (or `BENCH_ONLY="select throughput" bash bench/run.sh` for some steps).')
    w("")

    # --- method -----------------------------------------------------------------------------
    w("## How it is measured")
    w("")
    w(
        "- **Upstream**: `turnout sim` (the Rust simulator) as a separate process on loopback; "
        "once more Debian's nginx, answering every chat completion with one fixed body "
        "(`bench/nginx.conf`), as a neutral upstream nobody here wrote. Client and upstream "
        "share the machine's cores, so client CPU spent on overhead shows up as lost throughput."
    )
    w(
        "- **Rust peer**: a `reqwest::Client` built with the settings of turnout's transport "
        "(connect timeout, idle pool of 256 per host, `TCP_NODELAY`), sending the same request "
        "(serialised per call from the same `ChatCompletionRequest`), reading the body and "
        "decoding it into the same `ChatCompletion`. turnout runs a 10 % sticky canary with "
        "blue and green on the same upstream, so every request is hashed and routed."
    )
    w(
        "- **Two raw peers**: *raw* passes the URL as a string, as reqwest is usually called "
        "(reqwest parses it on every request); *raw-url* passes a `Url` parsed once, as "
        "turnout's transport does. The goal is stated against the first; the second is the "
        "stricter comparison."
    )
    w(
        "- **Two builds**: the Rust rounds run as `cargo bench` builds them (the release profile: "
        "no LTO, 16 codegen units, what `cargo build --release` gives when nothing is set), and "
        "once more with the workspace's `dist` profile (fat LTO, one codegen unit: what the wheel "
        "and the Node module ship with, and what the README suggests for a Rust application). "
        "Both clients are in the one binary, so each build compares like with like."
    )
    w(
        "- **Paired rounds** (`core/benches/overhead.rs`): in each round every client gets the "
        "same time at c=64 in four slices taken in turn (order rotating), so a burst of load "
        "from elsewhere on the machine hits all alike, and the ratio is taken within the round. "
        "Latency modes (streaming, failover) interleave the clients request by request."
    )
    w(
        "- **criterion** (`core/benches/selection.rs`, `core/benches/decode.rs`, "
        "`core/benches/throughput.rs`): its "
        "median with its 95 % confidence interval."
    )
    w("")

    # --- details ----------------------------------------------------------------------------
    w("## Routing decision (criterion, `select`)")
    w("")
    criterion_table(w, "case", sel, "{:.2f}")

    w("## Decoding answers (criterion, `decode`)")
    w("")
    w(
        "An answer decoded into the typed wire types (`ChatCompletion`, `ChatCompletionChunk`), "
        "as every typed call does once and a stream once per chunk; raw reqwest's peer in the "
        "throughput rounds decodes into the same type."
    )
    w("")
    dec = {fn: est for (g, fn), est in crit.items() if g == "decode"}
    criterion_table(w, "answer", dec, "{:.0f}")

    w("## Rust throughput at c=64")
    w("")
    for build, upstream, rows in rust_runs:
        name = upstream if build == "release" else f"{upstream}, {build} profile"
        w(f"### {name}")
        w("")
        if not rows:
            w("not run")
            w("")
            continue
        w(
            "req/s and client CPU µs per request (the whole client process, every thread) of "
            "*raw* (URL string per call), *raw-url* (URL parsed once) and *turnout*."
        )
        w("")
        w(
            "| round | raw req/s | raw-url req/s | turnout req/s | ratio vs raw | ratio vs raw-url | CPU µs/req raw / raw-url / turnout | failed |"  # noqa: E501
        )
        w("|---|---|---|---|---|---|---|---|")
        for r in rows:
            failed = r["raw_failed"] + r.get("raw_url_failed", 0) + r["turnout_failed"]
            w(
                f"| {r['round']} | {r['raw_rps']:.0f} | {r.get('raw_url_rps', float('nan')):.0f} | {r['turnout_rps']:.0f} | "  # noqa: E501
                f"{r['ratio']:.3f} | {r.get('ratio_url', float('nan')):.3f} | "
                f"{r['raw_cpu_us']:.1f} / {r.get('raw_url_cpu_us', float('nan')):.1f} / {r['turnout_cpu_us']:.1f} | {failed} |"  # noqa: E501
            )
        mcol = lambda k, rows=rows: med([r.get(k, float("nan")) for r in rows])  # noqa: E731
        w(
            f"| **median** | {mcol('raw_rps'):.0f} | {mcol('raw_url_rps'):.0f} | {mcol('turnout_rps'):.0f} | "
            f"**{mcol('ratio'):.3f}** | **{mcol('ratio_url'):.3f}** | "
            f"{mcol('raw_cpu_us'):.1f} / {mcol('raw_url_cpu_us'):.1f} / {mcol('turnout_cpu_us'):.1f} | |"
        )
        w("")
        cpu_added_url = [r["turnout_cpu_us"] - r["raw_url_cpu_us"] for r in rows if "raw_url_cpu_us" in r]
        w(
            f"Client CPU added by turnout per request: {spread(cpu_added(rows), '{:.1f}')} µs vs raw, "
            f"{spread(cpu_added_url, '{:.1f}')} µs vs raw-url."
        )
        w("")
    if instr:
        w("### Instructions per request (callgrind)")
        w("")
        w(
            "Counted by valgrind inside each request's own future (the client's whole path: "
            "building, sending, reading, decoding — and for turnout routing, retries, statistics, "
            "metrics and costs), 10 000 requests at c=8 after 2 000 of warm-up; the connection "
            "tasks both clients share are left out. Deterministic, unlike the timings above."
        )
        w("")
        w("| client | instructions per request | vs raw | allocations per request |")
        w("|---|---|---|---|")
        base = instr.get("raw", {}).get("per_call")
        for name in ("raw", "raw_url", "turnout"):
            if name in instr:
                r = instr[name]
                rel = f"{r['per_call'] / base:.3f}×" if base else "—"
                allocs = r.get("allocs_per_request")
                w(
                    f"| {name.replace('_', '-')} | {r['per_call']:,.0f} | {rel} | {allocs:.1f} |"
                    if allocs is not None
                    else f"| {name} | {r['per_call']:,.0f} | {rel} | — |"
                )
        w("")
    ct = {fn: e for (g, fn), e in crit.items() if g == "chat c=64"}
    if ct:
        w("### criterion cross-check (`throughput` bench, simulator process)")
        w("")
        w("| client | median time per request | 95 % CI | req/s |")
        w("|---|---|---|---|")
        for fn, e in sorted(ct.items()):
            m = e["median"]
            w(
                f"| {fn} | {m['point_estimate'] / 1000:.2f} µs | "
                f"{m['confidence_interval']['lower_bound'] / 1000:.2f}–{m['confidence_interval']['upper_bound'] / 1000:.2f} µs | "  # noqa: E501
                f"{1e9 / m['point_estimate']:.0f} |"
            )
        if "raw reqwest" in ct and "turnout" in ct:
            ratio = ct["raw reqwest"]["median"]["point_estimate"] / ct["turnout"]["median"]["point_estimate"]
            w("")
            w(f"Ratio turnout / raw (req/s): {ratio:.3f}×.")
        w("")

    w("## Streaming: time to first chunk")
    w("")
    if ttfc:
        w(
            "Sequential streamed chat completions, raw and turnout interleaved request by "
            "request; each stream is read to its end, the clock stops at the first decoded chunk."
        )
        w("")
        w(
            "| round | raw p50 / p99 µs | raw-url p50 / p99 µs | turnout p50 / p99 µs | added p50 (vs raw / raw-url) µs | added p99 (vs raw / raw-url) µs |"  # noqa: E501
        )
        w("|---|---|---|---|---|---|")
        for r in ttfc:
            cell = lambda k, r=r: f"{r[k]['p50_us']:.1f} / {r[k]['p99_us']:.1f}" if k in r else "—"  # noqa: E731
            w(
                f"| {r['round']} | {cell('raw')} | {cell('raw_url')} | {cell('turnout')} | "
                f"{r['added_p50_us']:.1f} / {r.get('added_url_p50_us', float('nan')):.1f} | "
                f"{r['added_p99_us']:.1f} / {r.get('added_url_p99_us', float('nan')):.1f} |"
            )
        w("")
        w(f"Added at p50: {spread(ttfc_p50, '{:.1f}')} µs; at p99: {spread(ttfc_p99, '{:.1f}')} µs.")
    else:
        w("not run")
    w("")

    w("## Failover when a side refuses connections")
    w("")
    if fo:
        w(
            "Blue is a loopback port that refuses connections, green is the simulator; "
            "sequential requests, the four clients interleaved request by request. "
            "*every*: circuit breaker and probes configured never to take blue out, so every "
            "request is refused by blue and fails over (2 attempts). *defaults*: default "
            "configuration — the circuit opens after 5 failures and blue is then skipped "
            "(one half-open trial per 30 s)."
        )
        w("")
        w(
            "| round | raw→green p50/p99 µs | turnout→green p50/p99 µs | failover *every* p50/p99 µs | failover *defaults* p50/p99 µs | p99 added (*every*) µs |"  # noqa: E501
        )
        w("|---|---|---|---|---|---|")
        for r in fo:
            cell = lambda k, r=r: f"{r[k]['p50_us']:.0f} / {r[k]['p99_us']:.0f}"  # noqa: E731
            w(
                f"| {r['round']} | {cell('raw_green')} | {cell('turnout_green')} | {cell('turnout_failover_every')} | "  # noqa: E501
                f"{cell('turnout_failover_defaults')} | {r['added_p99_us']:.0f} |"
            )
        w("")
        w(
            f"p99 added, *every*: {spread(fo_p99, '{:.3f}')} ms; p50 added: "
            f"{spread([r['added_p50_us'] / 1000 for r in fo], '{:.3f}')} ms; "
            f"p99 added, *defaults*: {spread(fo_def, '{:.3f}')} ms. Attempts per request (*every*): "
            f"{med([r['turnout_failover_every']['attempts_mean'] for r in fo]):.2f}."
        )
    else:
        w("not run")
    w("")

    w("## Memory: RSS over many requests")
    w("")
    for name, rows in [("Rust", rss_rust), ("Python", rss_py)]:
        if not rows:
            w(f"- {name}: not run.")
            continue
        for r in rows:
            samples = ", ".join(
                f"{s['requests'] // 1000}k: {s['rss_kib'] / 1024:.1f}" for s in r.get("samples", [])
            )
            w(
                f"- {name}: {r['requests']} requests at c={r['concurrency']} in {r['seconds']:.0f} s "
                f"({r['failed']} failed). VmRSS after the first tenth (warm-up) "
                f"{r['rss_warm_kib'] / 1024:.1f} MB, at the end {r['rss_end_kib'] / 1024:.1f} MB, "
                f"peak sample {r['rss_max_kib'] / 1024:.1f} MB: **growth {r['growth_kib'] / 1024:.2f} MB**. "
                f"Samples (MB): {samples}."
            )
    w("")

    w("## Python (bench/python_bench.py)")
    w("")
    if py_txt.strip():
        w("```")
        w(py_txt.rstrip())
        w("```")
    else:
        w("not run")
    w("")
    w("## Node (bench/node_bench.mjs)")
    w("")
    if node_txt.strip():
        w("```")
        w(node_txt.rstrip())
        w("```")
    else:
        w("not run")
    w("")

    proxy_section(w, proxy_rows, proxy_versions)
    layers_section(w, load_jsonl(out / "layers.jsonl"))
    lean_section(w, load_jsonl(out / "lean.jsonl"), load_jsonl(Path(__file__).with_name("lean-before.jsonl")))

    notes = Path(__file__).with_name("notes.md")
    if notes.exists():
        w(notes.read_text().rstrip())
        w("")

    Path(args.write).write_text("\n".join(L) + "\n")


if __name__ == "__main__":
    main()
