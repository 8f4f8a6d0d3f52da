"""The hit-rate report: one self-contained HTML file (charts inlined as PNG).

python -m stress_test.report stress_test/reports/<timestamp>
"""

from __future__ import annotations

import base64
import html
import io
import json
import sys
from pathlib import Path
from typing import Any

from cache.outcome import Outcome

OUTCOMES = tuple(Outcome)
COLOURS = dict(zip(OUTCOMES, ("#2a9d8f", "#e9c46a", "#e76f51"), strict=True))


def png(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode()


def hit_rate_over_time(out: Path, modes: list[dict]) -> str:
    """Share of items per outcome, second by second, one panel per mode."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(modes), figsize=(5 * len(modes), 3.2), squeeze=False)
    for ax, row in zip(axes[0], modes, strict=True):
        timeline = json.loads((out / f"{row['cache_mode']}_results.json").read_text())["timeline"]
        if timeline:
            start = timeline[0][0]
            seconds = [t[0] - start for t in timeline]
            totals = [max(1, sum(t[1:])) for t in timeline]
            shares = [
                [t[i + 1] / n for t, n in zip(timeline, totals, strict=True)] for i in range(3)
            ]
            ax.stackplot(seconds, *shares, labels=OUTCOMES, colors=[COLOURS[o] for o in OUTCOMES])
        ax.axhline(
            row["expected_hit_rate"],
            color="black",
            linestyle="--",
            linewidth=1,
            label="expected hit rate",
        )
        ax.set_title(f"cache {row['cache_mode']}")
        ax.set_xlabel("seconds")
        ax.set_ylim(0, 1)
    axes[0][0].set_ylabel("share of items")
    axes[0][-1].legend(loc="lower right", fontsize=8)
    return png(fig)


def latency_by_outcome(modes: list[dict]) -> str:
    """p50 / p95 / p99 of each outcome, per mode (milliseconds, log scale)."""
    import matplotlib.pyplot as plt

    labels, values = [], {q: [] for q in ("p50_ms", "p95_ms", "p99_ms")}
    for row in modes:
        for outcome, quantiles in sorted(row["latency_by_outcome"].items()):
            labels.append(f"{row['cache_mode']}\n{outcome}")
            for q in values:
                values[q].append(quantiles[q])
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(labels)), 3.5))
    width = 0.27
    for i, (q, series) in enumerate(values.items()):
        ax.bar([x + (i - 1) * width for x in range(len(labels))], series, width, label=q[:3])
    ax.set_xticks(range(len(labels)), labels, fontsize=8)
    ax.set_ylabel("ms")
    if any(v > 0 for series in values.values() for v in series):
        ax.set_yscale("log")
    ax.legend()
    return png(fig)


def throughput_and_p99(modes: list[dict]) -> str:
    import matplotlib.pyplot as plt

    names = [row["cache_mode"] for row in modes]
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    left.bar(names, [row["rps"] for row in modes], color="#264653")
    left.set_title("throughput (req/s)")
    right.bar(names, [row["p99_ms"] for row in modes], color="#e76f51")
    right.set_title("p99 latency (ms)")
    for ax, key in ((left, "rps"), (right, "p99_ms")):
        for x, row in enumerate(modes):
            ax.annotate(f"{row[key]:g}", (x, row[key]), ha="center", va="bottom", fontsize=8)
    return png(fig)


def _table(modes: list[dict]) -> str:
    columns = [
        "cache_mode", "requests", "failures", "duration_s", "rps", "p50_ms", "p95_ms", "p99_ms",
        *(o.field for o in Outcome), "expected_hit_rate", "measured_hit_rate",
    ]  # fmt: skip
    head = "".join(f"<th>{c}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(row[c]))}</td>" for c in columns) + "</tr>"
        for row in modes
    )
    return f"<table><tr>{head}</tr>{body}</table>"


LAMBDA_FIELDS = [
    ("containers started (cold starts)", "containers_started"),
    ("containers that loaded the model", "containers_loading_model"),
    ("peak concurrent containers", "peak_concurrent_containers"),
    ("first response ms, first request cached", "first_response_ms.cached"),
    ("first response ms, first request uncached", "first_response_ms.uncached"),
    *((f"handler ms, {o}", f"handler_ms_by_outcome.{o}") for o in Outcome),
    ("billed ms", "billed_ms"),
    ("hit rate L1 / L2 / miss", "hit_rate"),
    ("L1 hit rate per container", "l1_hit_rate_per_container"),
    ("log bytes per request", "log_bytes_per_request"),
    ("cost per 1M requests (USD)", "cost_per_million_requests_usd"),
]


def _cell(value: Any) -> str:
    if isinstance(value, dict):
        skip = ("n", "prices_as_of", "region")
        return " / ".join(f"{k} {v}" for k, v in value.items() if k not in skip)
    return "—" if value is None else str(value)


def _at(view: dict, path: str) -> Any:
    for part in path.split("."):
        view = (view or {}).get(part)
    return view


def _lambda_table(modes: list[dict]) -> str:
    """The containers' own figures per mode, and the estimated cost per million requests."""
    rows = [row for row in modes if row.get("lambda")]
    if not rows:
        return ""
    head = "<tr><th></th>" + "".join(f"<th>{html.escape(r['cache_mode'])}</th>" for r in rows)
    body = "".join(
        f"<tr><th>{html.escape(name)}</th>"
        + "".join(f"<td>{html.escape(_cell(_at(r['lambda'], path)))}</td>" for r in rows)
        + "</tr>"
        for name, path in LAMBDA_FIELDS
    )
    as_of = rows[0]["lambda"]["cost_per_million_requests_usd"]["prices_as_of"]
    return (
        "<h2>Lambda view</h2><p>Reported by the containers themselves (one line per "
        "invocation: container id, cold start, model loaded, handler duration); billed ms "
        "are rounded up to 1 ms, init included on cold starts. Cost per million requests "
        f"at AWS prices as of {html.escape(as_of)} (us-east-1, service/ops/prices.py), "
        f"{rows[0]['lambda']['memory_mb']} MB. On a local stack there are no containers: "
        f"its figures are the server's lookup latency.</p><table>{head}</tr>{body}</table>"
    )


def _figures(out: Path, modes: list[dict]) -> str:
    charts = [
        ("Hit rate per tier over time", hit_rate_over_time(out, modes),
         "Share of items answered by each tier, per second; dashed: the expected hit rate."),
        ("Latency percentiles per outcome", latency_by_outcome(modes),
         "Client-side (locust) latency of single predictions, split by X-Cache."),
        ("Throughput and p99 per cache mode", throughput_and_p99(modes),
         "Same scenario, same load, one run per mode."),
    ]  # fmt: skip
    return "".join(
        f"<h2>{title}</h2><p>{note}</p><img alt='{title}' src='data:image/png;base64,{data}'>"
        for title, data, note in charts
    )


def write_report(out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    summary = json.loads((out / "summary.json").read_text())
    modes, params = summary["modes"], summary["params"]
    links = "".join(
        f"<li><a href='{row['cache_mode']}.html'>locust report: {row['cache_mode']}</a></li>"
        for row in modes
    )
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>predcache stress report: {html.escape(params["scenario"])}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}
img{{max-width:100%}}</style></head><body>
<h1>predcache stress report</h1>
<p>Scenario <b>{html.escape(params["scenario"])}</b>, {params["users"]} users,
{params["duration"]} s per mode, seed {params["seed"]}, created {summary["created"]}.
Parameters: <code>{html.escape(json.dumps(params))}</code></p>
<h2>Summary: expected vs measured hit rate</h2>{_table(modes)}
{_lambda_table(modes)}
<p>Expected hit rate: the share of items the cache should answer, given the
scenario's payload distribution and the number of items actually sent. In
<code>tiered</code> mode the shared L2 holds every payload; in <code>memory</code>
mode each server worker has its own L1, bounded by <code>L1_MAX_ITEMS</code>
(an LRU of that size is simulated when the payload pool is larger).</p>
{_figures(out, modes)}<h2>Raw data</h2>
<ul>{links}<li><a href="summary.json">summary.json</a></li></ul>
</body></html>"""
    path = out / "report.html"
    path.write_text(page)
    return path


if __name__ == "__main__":
    print(write_report(Path(sys.argv[1])))
