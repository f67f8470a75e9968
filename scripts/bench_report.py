"""Writes docs/BENCHMARKS.md and docs/benchmarks.png from a scripts/bench.sh run.

Reads, from the run directory ($BENCH_WORK): results.jsonl (one loadgen report per line),
header.md and rows.md (loadgen's Markdown table), notes.txt (targets skipped); and criterion's
estimates under $BENCH_CRITERION. Everything else comes from the environment bench.sh exports.
"""
import datetime
import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.patches  # noqa: E402
import matplotlib.ticker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

DOCS = pathlib.Path(sys.argv[1])
WORK = pathlib.Path(os.environ["BENCH_WORK"])
CRITERION = pathlib.Path(os.environ["BENCH_CRITERION"])
ENV = os.environ


def read_results(name="results.jsonl"):
    path = WORK / name
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines if line.strip()]


BARE = "bare axum (no sessions)"
COOKIE_FLOOR = "bare axum + session cookie (no session)"
REDIS_FLOOR = "bare axum + session cookie + Redis write (no session)"
MINIMAL = "minimal session layer (yardstick)"
MINIMAL_SIGNED = "minimal signed-cookie layer (yardstick)"


def round_ratios(rounds, label, base):
    """label's req/s over base's, per goal round (the rounds alternate the targets)."""
    mine = [r["req_per_s"] for r in rounds if r["label"] == label]
    theirs = [r["req_per_s"] for r in rounds if r["label"] == base]
    return [a / b for a, b in zip(mine, theirs) if b]


def median_round(rounds, label, key):
    """The median over the goal rounds of one target's req_per_s or server_cpu_us_per_req."""
    values = [r[key] for r in rounds if r["label"] == label and r.get(key)]
    return statistics.median(values) if values else None


def round_labels(rounds):
    """The goal rounds' targets in the order of the first round (engines next to their peers)."""
    labels = []
    for r in rounds:
        if r["label"] not in labels:
            labels.append(r["label"])
    return labels


# Issue 17's HTTP goals: (ours, peer or floor, least ratio or None for reference). Issue 17 set
# no goal on MySQL: its rows are for reference.
NEAR = ", near cache"
PEER_GOALS = (
    ("sessionkit db SQLite", "tower-sessions SQLite store", 1.5),
    ("sessionkit db SQLite" + NEAR, "tower-sessions SQLite store", 1.5),
    ("sessionkit db PostgreSQL", "tower-sessions PostgreSQL store", 2.0),
    ("sessionkit db PostgreSQL" + NEAR, "tower-sessions PostgreSQL store", 2.0),
    ("sessionkit db MySQL", "tower-sessions MySQL store", None),
    ("sessionkit db MySQL" + NEAR, "tower-sessions MySQL store", None),
    ("sessionkit cache Redis" + NEAR, "actix-session Redis", 1.5),
    (REDIS_FLOOR, "actix-session Redis", None),
    ("sessionkit cache Redis" + NEAR, REDIS_FLOOR, None),
    ("sessionkit cache Redis", "actix-session Redis", None),
    ("sessionkit cache Redis", "tower-sessions Redis store", None),
    ("sessionkit cache Redis" + NEAR, "tower-sessions Redis store", None),
    ("sessionkit cached_db", "tower-sessions PostgreSQL store", None),
    ("sessionkit cached_db" + NEAR, "tower-sessions PostgreSQL store", None),
    ("sessionkit signed_cookies", COOKIE_FLOOR, 0.85),
    (MINIMAL_SIGNED, COOKIE_FLOOR, None),
    ("sessionkit cache memory", COOKIE_FLOOR, 0.85),
    (MINIMAL, COOKIE_FLOOR, None),
    ("sessionkit signed_cookies", "tower-sessions MemoryStore", 1.2),
    ("sessionkit cache memory", "tower-sessions MemoryStore", 1.2),
    ("sessionkit signed_cookies", "tower-sessions MemoryStore, signed id", None),
    ("sessionkit cache memory", "tower-sessions MemoryStore, signed id", None),
    ("tower-sessions MemoryStore", COOKIE_FLOOR, None),
    ("tower-sessions MemoryStore, signed id", COOKIE_FLOOR, None),
)

# What stands in for sessionkit's target in a goal to show whether any session layer could
# meet it: a floor (no session layer on that store can beat it) or a yardstick (the least a
# layer does, written as directly as it can be). A goal that sessionkit misses and that its
# floor or yardstick also misses in the same rounds is reported blocked, not merely missed.
GOAL_FLOORS = {
    ("sessionkit cache Redis" + NEAR, "actix-session Redis"): REDIS_FLOOR,
    ("sessionkit cache memory", COOKIE_FLOOR): MINIMAL,
    ("sessionkit signed_cookies", COOKIE_FLOOR): MINIMAL_SIGNED,
}


def kind(label):
    """The chart's colour group of a target: a floor, a yardstick, a peer, or sessionkit with or
    without the near cache."""
    if label.startswith("bare axum"):
        return "floor (no session)"
    if label.endswith("(yardstick)"):
        return "yardstick (minimal layer)"
    if not label.startswith("sessionkit"):
        return "peer"
    return "sessionkit, near cache" if label.endswith(NEAR) else "sessionkit"


KIND_COLOURS = {
    "floor (no session)": "tab:gray",
    "yardstick (minimal layer)": "tab:olive",
    "peer": "tab:orange",
    "sessionkit": "tab:blue",
    "sessionkit, near cache": "tab:cyan",
}


def peer_goals(rounds, layers):
    """Rows of (goal, measured, verdict) for issue 17: engines against peers and floors."""
    rows = []
    clients = ENV["BENCH_CLIENTS"]
    for ours, theirs, limit in PEER_GOALS:
        ratios = round_ratios(rounds, ours, theirs)
        goal = f"HTTP /bench/incr, {clients} clients: {ours} / {theirs}" + (
            f" ≥ {limit}×" if limit else ""
        )
        if not ratios:
            rows.append((goal, "not measured", "n/a"))
            continue
        median = statistics.median(ratios)
        each = ", ".join(f"{r:.2f}" for r in ratios)
        measured = f"median of {len(ratios)} rounds {median:.2f}× (rounds: {each})"
        if not limit:
            rows.append((goal, measured, "for reference"))
            continue
        stand_in = GOAL_FLOORS.get((ours, theirs))
        floor_ratios = round_ratios(rounds, stand_in, theirs)
        floor = statistics.median(floor_ratios) if floor_ratios else None
        if median < limit and floor is not None and floor < limit:
            status = f"**blocked**: {stand_in} reaches {floor:.2f}× (next row)"
        else:
            status = verdict(median >= limit)
        rows.append((goal, measured, status))
    goal = ("in process, reads and writes one key: sessionkit memory's layer time (over the bare "
            "router) within 1.5× of `floor_minimal_layer`'s")
    alternating = {(r["stack"], r["handler"]): r for r in layers}
    ours_alternating = alternating.get(("sessionkit_memory", "read_write"))
    floor_alternating = alternating.get(("floor_minimal_layer", "read_write"))
    if ours_alternating and floor_alternating:
        low, high = ours_alternating["ratio_middle_half"]
        ratio = ours_alternating["ratio_to_yardstick"]
        rows.append((
            goal,
            f"{duration(ours_alternating['layer_ns'])} / "
            f"{duration(floor_alternating['layer_ns'])}: {ratio:.2f}× (median of "
            f"{ours_alternating['rounds']} alternating rounds, middle half {low:.2f}–{high:.2f}×)",
            verdict(ratio <= 1.5),
        ))
    else:
        rows.append((goal, "not measured (micro-benchmarks not run)", "n/a"))
    checked = [r for r in rounds if not r["label"].startswith("bare axum")]
    bad = [
        f"{r['label']}: {r['errors']} errors, {r['lost_updates']} lost"
        for r in checked
        if r["errors"] or r["lost_updates"]
    ]
    rows.append((
        "goal rounds, every session target: zero errors, zero lost updates",
        "; ".join(bad) if bad else f"0 and 0 in all {len(checked)} runs",
        verdict(not bad and checked),
    ))
    return rows


def criterion_estimates():
    """full_id → (estimate, lower, upper) in nanoseconds, as criterion prints them."""
    found = {}
    for benchmark in CRITERION.glob("**/new/benchmark.json"):
        meta = json.loads(benchmark.read_text())
        estimates = json.loads((benchmark.parent / "estimates.json").read_text())
        estimate = estimates.get("slope") or estimates["mean"]
        interval = estimate["confidence_interval"]
        found[meta["full_id"]] = (
            estimate["point_estimate"],
            interval["lower_bound"],
            interval["upper_bound"],
        )
    return dict(sorted(found.items()))


def duration(ns):
    for unit, scale in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if ns >= scale:
            return f"{ns / scale:.3g} {unit}"
    return f"{ns:.3g} ns"


def command_output(*args):
    try:
        return subprocess.run(args, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine():
    cpu = "unknown"
    memory = "unknown"
    with open("/proc/cpuinfo") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
                break
    import django
    import gunicorn

    revision = command_output("git", "-C", str(DOCS.parent), "rev-parse", "--short", "HEAD")
    changes = command_output("git", "-C", str(DOCS.parent), "status", "--porcelain", "--", "crates")
    if revision != "unknown" and changes:
        revision += " with uncommitted changes in crates/"
    return [
        ("sessionkit revision", revision),
        ("cores (nproc)", str(os.cpu_count())),
        ("CPU", cpu),
        ("memory", memory),
        ("kernel", platform.release()),
        ("rustc", command_output("rustc", "--version")),
        ("Python / Django / gunicorn",
         f"{platform.python_version()} / {django.get_version()} / {gunicorn.__version__}"),
        ("stores (as each server reports its version)",
         ", ".join(ENV.get("BENCH_STORE_VERSIONS", "").split(";")) or "none"),
        ("niceness of the run", str(os.nice(0))),
        ("load average (1, 5, 15 min) before / after",
         f"{ENV['BENCH_LOAD_BEFORE']} / {' '.join(open('/proc/loadavg').read().split()[:3])}"),
    ]


def find(results, label, mode):
    for result in results:
        if result["label"] == label and result["mode"] == mode:
            return result
    return None


def verdict(ok):
    return "met" if ok else "**missed**"


def goals(results, rounds, micro):
    """Rows of (goal, measured, verdict) for the targets of issue 6."""
    rows = []

    def ratio_row(goal, numerator, denominator, limit, at_most=True):
        a, b = micro.get(numerator), micro.get(denominator)
        if not a or not b:
            rows.append((goal, "not measured (run without --no-micro)", "n/a"))
            return
        ratio = a[0] / b[0]
        measured = f"{duration(a[0])} / {duration(b[0])} = {ratio:.2f}"
        if limit is None:
            rows.append((goal, measured, "for reference"))
            return
        ok = ratio <= limit if at_most else ratio >= limit
        rows.append((goal, measured, verdict(ok)))

    ratio_row(
        "in process, reads and writes one key: sessionkit memory ≤ 1/3 of tower-sessions memory",
        "middleware/sessionkit_memory/read_write",
        "middleware/tower_sessions_memory/read_write",
        1 / 3,
    )
    ratio_row(
        "in process, reads and writes one key: sessionkit signed_cookies ≤ 1/2 of "
        "tower-sessions signed id + memory",
        "middleware/sessionkit_signed_cookies/read_write",
        "middleware/tower_sessions_signed_id_memory/read_write",
        1 / 2,
    )
    bare = micro.get("middleware/axum_no_session/read_write")
    for ours, theirs in (
        ("sessionkit_memory", "tower_sessions_memory"),
        ("sessionkit_signed_cookies", "tower_sessions_signed_id_memory"),
    ):
        a = micro.get(f"middleware/{ours}/read_write")
        b = micro.get(f"middleware/{theirs}/read_write")
        if a and b and bare:
            layer_a, layer_b = a[0] - bare[0], b[0] - bare[0]
            rows.append((
                f"the same without the router's own time ({duration(bare[0])}): "
                f"{ours} layer / {theirs} layer",
                f"{duration(layer_a)} / {duration(layer_b)} = {layer_a / layer_b:.2f}",
                "for reference",
            ))
    ratio_row(
        "yardstick: `floor_minimal_layer` (the least a server-side session layer does: no hashed "
        "key, expiry or merge; benches/in_process/floor.rs) / tower-sessions memory",
        "middleware/floor_minimal_layer/read_write",
        "middleware/tower_sessions_memory/read_write",
        None,
    )
    ratio_row(
        "yardstick: `floor_minimal_signed_layer` (the same, keeping the session in a cookie "
        "signed by sessionkit's Django-compatible `Signer`) / tower-sessions signed id + memory",
        "middleware/floor_minimal_signed_layer/read_write",
        "middleware/tower_sessions_signed_id_memory/read_write",
        None,
    )
    floor = next((k for k in micro if k.startswith("floor_200B/two_hmac")), None)
    ratio_row(
        "sign+verify of a 200 B session within 2× of two HMAC-SHA256 "
        "(the signing layer on its JSON; encoding and decoding JSON is the json group's)",
        "floor_200B/sessionkit_sign_verify_payload",
        floor,
        2.0,
    )
    ratio_row(
        "the same with the JSON written and parsed (sign_object / unsign_object)",
        "floor_200B/sessionkit_sign_verify_with_json",
        floor,
        None,
    )

    def median_of_rounds(label, base):
        ratios = round_ratios(rounds, label, base)
        if not ratios:
            return None
        median = statistics.median(ratios)
        each = ", ".join(f"{r:.0%}" for r in ratios)
        return median, f"median of {len(ratios)} rounds {median:.0%} (rounds: {each})"

    clients = ENV["BENCH_CLIENTS"]
    for label, limit in (("sessionkit signed_cookies", 0.85), ("sessionkit cache memory", 0.90)):
        goal = f"HTTP /bench/incr, {clients} clients: {label} ≥ {limit:.0%} of bare axum req/s"
        found = median_of_rounds(label, BARE)
        if not found:
            rows.append((goal, "not measured", "n/a"))
            continue
        median, measured = found
        floor = median_of_rounds(label, COOKIE_FLOOR)
        if floor:
            measured += f"; of the cookie floor below: {floor[0]:.0%}"
        rows.append((goal, measured, verdict(median >= limit)))
    floor = median_of_rounds(COOKIE_FLOOR, BARE)
    if floor:
        rows.append((
            f"cookie floor: bare axum sending a session-sized `Set-Cookie` and `Vary: Cookie`, "
            f"clients sending the cookie back, no session at all (req/s of bare axum's)",
            floor[1],
            "for reference",
        ))

    per_client = [
        r for r in results
        if r["label"].startswith("sessionkit") and r["mode"] in ("incr", "read", "login")
    ]
    bad = [
        f"{r['label']} {r['mode']}: {r['errors']} errors, {r['lost_updates']} lost"
        for r in per_client
        if r["errors"] or r["lost_updates"]
    ]
    rows.append((
        "sessionkit, per-client modes (incr, read, login): zero errors, zero lost updates",
        "; ".join(bad) if bad else f"0 and 0 in all {len(per_client)} runs",
        verdict(not bad) if per_client else "n/a (not run)",
    ))
    return rows


def chart(results, rounds, path):
    """req/s and server CPU per request per target: the goal rounds' medians of incr when there
    are rounds (engines next to their peers, coloured by kind), else the per-target incr and read
    runs."""
    if rounds:
        labels = round_labels(rounds)
        series = [(
            "incr",
            [median_round(rounds, l, "req_per_s") or 0 for l in labels],
            [median_round(rounds, l, "server_cpu_us_per_req") or 0 for l in labels],
            [KIND_COLOURS[kind(l)] for l in labels],
        )]
    else:
        labels = []
        for result in results:
            if result["label"] not in labels:
                labels.append(result["label"])
        series = [
            (
                mode,
                [(find(results, l, mode) or {}).get("req_per_s", 0) for l in labels],
                [(find(results, l, mode) or {}).get("server_cpu_us_per_req") or 0 for l in labels],
                None,
            )
            for mode in ("incr", "read")
        ]
    figure, (rate_axis, cpu_axis) = plt.subplots(
        1, 2, figsize=(13, 0.45 * len(labels) + 1.8), sharey=True
    )
    height = 0.76 / len(series)
    for i, (mode, rates, cpus, colours) in enumerate(series):
        # A log axis has no zero: leave missing values out.
        cpus = [cpu if cpu > 0 else float("nan") for cpu in cpus]
        offsets = [y + (i - (len(series) - 1) / 2) * height for y in range(len(labels))]
        rate_axis.barh(offsets, rates, height, label=f"/bench/{mode}", color=colours)
        cpu_axis.barh(offsets, cpus, height, label=f"/bench/{mode}", color=colours)
        for y, rate in zip(offsets, rates):
            if rate:
                rate_axis.text(rate, y, f" {rate:,.0f}", va="center", fontsize=7)
        for y, cpu in zip(offsets, cpus):
            if cpu == cpu:  # not NaN
                cpu_axis.text(cpu, y, f" {cpu:.0f}", va="center", fontsize=7)
    rate_axis.set_yticks(range(len(labels)), labels)
    rate_axis.invert_yaxis()
    rate_axis.set_xlabel(f"requests per second, {ENV['BENCH_CLIENTS']} clients (higher is better)")
    # Thousands as "40k": six-digit tick labels run into each other.
    rate_axis.xaxis.set_major_formatter(
        matplotlib.ticker.FuncFormatter(lambda x, _: f"{x / 1000:,.0f}k" if x else "0")
    )
    cpu_axis.set_xscale("log")
    cpu_axis.set_xlabel("server CPU time per request, µs, log scale (lower is better)")
    if rounds:
        shown = {kind(l) for l in labels}
        handles = [
            matplotlib.patches.Patch(color=colour, label=name)
            for name, colour in KIND_COLOURS.items()
            if name in shown
        ]
        rate_axis.legend(handles=handles, loc="lower right")
    else:
        rate_axis.legend(loc="lower right")
    rate_axis.margins(x=0.15)
    cpu_axis.margins(x=0.15)
    source = (
        f"/bench/incr, medians of {ENV['BENCH_ROUNDS']} alternating rounds, " if rounds else ""
    )
    figure.suptitle(
        f"docs/DESIGN.md §10 over HTTP/1.1 keep-alive on 127.0.0.1 ({source}{os.cpu_count()} "
        "cores shared by server and load generator)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=130)


def main():
    results = read_results()
    rounds = read_results("rounds.jsonl")
    micro = criterion_estimates() if ENV.get("BENCH_MICRO") == "1" else {}
    layers = read_results("layer_time.jsonl") if micro else []
    notes = [n for n in (WORK / "notes.txt").read_text().splitlines() if n.strip()]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    chart(results, rounds, DOCS / "benchmarks.png")

    out = [
        "# Benchmarks",
        "",
        f"Generated by `scripts/bench.sh` on {now}; rerun it rather than editing this file.",
        "The workload is docs/DESIGN.md §10. Every number below comes from one run on one machine;",
        "compare numbers within this file, not with other machines.",
        "",
        "## Machine and command",
        "",
        "| | |",
        "|---|---|",
    ]
    out += [f"| {k} | {v} |" for k, v in machine()]
    out += [
        f"| command | `{ENV['BENCH_COMMAND'].strip()}` (with `CARGO_TARGET_DIR` set to the "
        "shared target directory) |",
        f"| goal rounds | {ENV['BENCH_ROUNDS']} rounds, each target `incr` for {ENV['BENCH_SHORT']} s "
        f"with {ENV['BENCH_CLIENTS']} clients |",
        f"| HTTP runs | {ENV['BENCH_CLIENTS']} clients; incr {ENV['BENCH_DURATION']} s, "
        f"read / login / shared {ENV['BENCH_SHORT']} s per target |"
        if ENV.get("BENCH_GOALS_ONLY") != "1" else "| HTTP runs | not run (`BENCH_GOALS_ONLY=1`) |",
        "",
        "The load generator and the server share these cores: `loadgen` runs on one thread, the",
        "servers use their defaults (tokio: one worker per core; gunicorn: "
        f"{ENV['BENCH_WORKERS']} gthread workers × 8 threads). req/s therefore measures the pair;",
        "the *server CPU µs/req* column (the server processes' CPU time divided by requests) is the",
        "cost of the server alone and the better number to compare engines by.",
    ]
    if float(ENV["BENCH_LOAD_BEFORE"].split()[0]) >= 1.0:
        out += [
            "",
            "**The machine was not idle** (load average above): other work shared the cores, so",
            "absolute numbers are pessimistic and noisier than on a quiet machine; ratios within",
            "one table (measured minutes apart) hold better than absolute values.",
        ]
    out += [
        "",
        "## Goals of issue 17: sessionkit against its peers",
        "",
        "| goal | measured | |",
        "|---|---|---|",
    ]
    out += [f"| {g} | {m} | {v} |" for g, m, v in peer_goals(rounds, layers)]
    if rounds:
        out += [
            "",
            "Medians over the goal rounds (below), per target:",
            "",
            "| target | req/s | server CPU µs/req | errors | lost updates |",
            "|---|---:|---:|---:|---:|",
        ]
        for label in round_labels(rounds):
            mine = [r for r in rounds if r["label"] == label]
            cpu = median_round(rounds, label, "server_cpu_us_per_req")
            lost = sum(r["lost_updates"] or 0 for r in mine)
            out.append(
                f"| {label} | {median_round(rounds, label, 'req_per_s'):,.0f} | "
                f"{f'{cpu:.1f}' if cpu else 'n/a'} | {sum(r['errors'] for r in mine)} | "
                f"{'n/a' if label.startswith('bare axum') else lost} |"
            )
    out += [
        "",
        "## Goals of issue 6 (retired by issue 17; for reference)",
        "",
        "| goal | measured | |",
        "|---|---|---|",
    ]
    out += [f"| {g} | {m} | {v} |" for g, m, v in goals(results, rounds, micro)]
    if rounds:
        out += [
            "",
            f"The HTTP goals come from {ENV['BENCH_ROUNDS']} rounds in which every target above",
            "(sessionkit's engines, their peers on the same stores, bare axum and the cookie floor)",
            f"ran `incr` back to back for {ENV['BENCH_SHORT']} s",
            "each, every round starting one target later; req/s on this shared machine drifts",
            "between runs by more than the differences, so each ratio is taken within a round.",
            "The cookie floor is `bare_axum --session-cookie`: the same server, adding to its responses",
            "the headers a server-side session's would carry (a 32-character key), which the clients",
            "then send back. Whatever a session library does, it cannot beat that; a signed cookie",
            "carries the session's data and is longer, so `signed_cookies`' own floor is lower still.",
            "The Redis floor, `bare_axum --session-cookie --redis-write`, also writes each change to",
            "Redis before answering (one `SET … EX` of a session-sized value on one multiplexed",
            "connection) and reads nothing, as a near cache at its best: no session layer that keeps",
            "its sessions in Redis, and answers a change only once Redis has it, can beat that.",
            "Its server CPU is bare axum's alone; Redis's own CPU is in docs/PROFILES.md.",
            "The yardsticks, `minimal_layer_server` (`--signed`), serve the same routes behind the",
            "least a session layer does (`src/minimal_layer.rs`: no hashed keys, expiry, merge of",
            "concurrent writes or error handling), with a cookie as long as sessionkit's: how near",
            "the cookie floor a session layer can come on this machine.",
            "The rounds' req/s, in the order they ran:",
            "",
            "| round | target | req/s | p50 ms | p99 ms | server CPU µs/req |",
            "|---:|---|---:|---:|---:|---:|",
        ]
        seen = {}
        for r in rounds:
            seen[r["label"]] = seen.get(r["label"], 0) + 1
            cpu = r.get("server_cpu_us_per_req")
            latency = r["latency_ms"]
            out.append(
                f"| {seen[r['label']]} | {r['label']} | {r['req_per_s']:.0f} | "
                f"{latency['p50']:.2f} | {latency['p99']:.2f} | "
                f"{f'{cpu:.1f}' if cpu else 'n/a'} |"
            )

    if micro:
        out += [
            "",
            "## Micro-benchmarks (criterion, in process)",
            "",
            "`cargo bench -p sessionkit-bench --bench micro -- --warm-up-time 1 --measurement-time 3`.",
            "Sessions are shop-like JSON (user id, counter, cart of pseudo-random SKUs) of exactly",
            "the size shown. `middleware/*` is one request through an axum router called with",
            "`tower::ServiceExt::oneshot` (no sockets), carrying the cookie of an existing session;",
            "`read` reads one key, `read_write` reads it and writes it back plus one.",
            "",
            "| benchmark | time per iteration | 95% interval |",
            "|---|---:|---|",
        ]
        out += [
            f"| `{name}` | {duration(est)} | {duration(low)} – {duration(high)} |"
            for name, (est, low, high) in micro.items()
        ]

    allocations_file = pathlib.Path(ENV["BENCH_WORK"]) / "allocations.jsonl"
    if micro and allocations_file.exists():
        rows = [json.loads(line) for line in allocations_file.read_text().splitlines() if line]
        out += [
            "",
            "### Heap allocations per request (in process)",
            "",
            "`cargo bench -p sessionkit-bench --bench allocations`: the `middleware` stacks above,",
            "each request counted by a global allocator. A count does not drift with the",
            "machine's load, so it shows a change to the hot path where the timings cannot.",
            "",
            "| stack | handler | allocations | bytes allocated |",
            "|---|---|---:|---:|",
        ]
        out += [
            f"| `{r['stack']}` | {r['handler']} | {r['allocations_per_request']:.0f} "
            f"| {r['bytes_per_request']:,.0f} |"
            for r in rows
        ]

    if layers:
        first = layers[0]
        out += [
            "",
            "### Layer time in alternating rounds (in process)",
            "",
            "`cargo bench -p sessionkit-bench --bench layer_time`: the `middleware` stacks again,",
            f"{first['rounds']} rounds, each running every stack for {first['requests_per_turn']:,}",
            "requests in an order that moves by one place a round. A layer's time is its stack's",
            "less the router's (`axum_no_session`) in the same round, and its ratio is to the",
            "yardstick's layer in that round (`floor_minimal_signed_layer` for the cookie engines,",
            "`floor_minimal_layer` for the others): the median, and the middle half of the rounds.",
            "Unlike criterion's timings above, taken one stack after another, the ratio holds when",
            "the machine slows down or speeds up between stacks.",
            "",
            "| stack | handler | time per request | layer | layer / yardstick's | middle half |",
            "|---|---|---:|---:|---:|---|",
        ]
        for r in layers:
            if r["layer_ns"] is None:
                out.append(f"| `{r['stack']}` | {r['handler']} | {duration(r['ns_per_request'])} | | | |")
                continue
            low, high = r["ratio_middle_half"]
            out.append(
                f"| `{r['stack']}` | {r['handler']} | {duration(r['ns_per_request'])} "
                f"| {duration(r['layer_ns'])} | {r['ratio_to_yardstick']:.2f}× "
                f"| {low:.2f}–{high:.2f}× |"
            )

    out += [
        "",
        "## HTTP (docs/DESIGN.md §10)",
        "",
        "![req/s and server CPU per request for each target](benchmarks.png)",
        "",
        "Where the server's time goes per request on PostgreSQL, SQLite and Redis, with flame",
        "graphs: [PROFILES.md](PROFILES.md).",
        "",
        "*Not run (`BENCH_GOALS_ONLY=1`): only the goal rounds above.*"
        if ENV.get("BENCH_GOALS_ONLY") == "1" else "",
        "",
        (WORK / "header.md").read_text().strip(),
        (WORK / "rows.md").read_text().strip(),
        "",
        "- **incr**: `GET /bench/incr`, each client with its own session; *lost updates* sums, over",
        "  clients, the difference between a client's increments and its last counter.",
        "- **read**: `GET /bench/read` after one increment; a body other than that counter is an error.",
        "- **login**: `POST /bench/login` with the previous session's cookie (cycle key: delete + create).",
        "- **shared**: all clients share one session and send the cookie last received by any of them;",
        "  *lost updates* is the total of successful increments minus what the final counter shows.",
        "  Concurrent read-modify-writes of one key lose updates by design in Django and in sessionkit",
        "  without `SESSION_LOCKING` (the per-key merge keeps *different* keys, not the same key twice);",
        "  signed cookies lose nearly all of them (the browser keeps whichever cookie came last).",
        "- bare axum has no sessions: its counter is per process, so nothing is checked (n/a).",
        "- tower-sessions: 0.15 with its `MemoryStore` (`tower_sessions_server`, `--signed` for the",
        "  signed id); 0.14 with `tower-sessions-sqlx-store` 0.15 (SQLite: WAL, `synchronous=NORMAL`,",
        "  as sessionkit's default; PostgreSQL; MySQL) and `tower-sessions-redis-store` 0.16 (fred),",
        "  served by `crates/sessionkit-bench/peers` (its own cargo project: its sqlx 0.8 cannot share",
        "  the workspace's lock file) with the same routes. actix-session 0.11: `RedisSessionStore`.",
        "- *, near cache*: the same `sessionkit serve` with `SESSION_NEAR_CACHE=true` (its default",
        "  size and TTL). Every `/bench/incr` reads and writes, so the near cache can save at most",
        "  the load's round trip; read-only requests are the ones it serves from memory.",
        "- sessionkit cached_db: PostgreSQL behind a Redis cache, both the shared services above.",
        "- Django: `django_app/` in `crates/sessionkit-bench`, SQLite in WAL mode with `IMMEDIATE`",
        "  transactions (as sessionkit's SQLite store uses WAL), `SESSION_COOKIE_SECURE=True`.",
    ]
    out += [f"- {note}" for note in notes]
    (DOCS / "BENCHMARKS.md").write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
