"""The hit-rate report: one self-contained HTML file (charts inlined as PNG).

python -m stress_test.report stress_test/reports/<timestamp>
"""

from __future__ import annotations

import base64
import html
import io
import json
import sys
from collections.abc import Callable, Iterable
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
    handles, labels = axes[0][-1].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="lower center",
        ncol=4,
        fontsize=8,
        frameon=False,
        bbox_to_anchor=(0.5, -0.08),
    )  # below the panels, not over a stack
    return png(fig)


def latency_by_outcome(modes: list[dict]) -> str:
    """p50 / p95 / p99 of each outcome, per mode (milliseconds, log scale)."""
    import matplotlib.pyplot as plt

    labels, values = [], {q: [] for q in ("p50_ms", "p95_ms", "p99_ms")}
    for row in modes:
        for outcome, quantiles in sorted(row["latency_by_outcome"].items()):
            n = quantiles["requests"]
            few = " †" if n < FEW else ""
            labels.append(f"{row['cache_mode']}\n{outcome}\nn={n:,}{few}")
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


FEW = 100  # a percentile from fewer samples than this is flagged: it is noise

SUMMARY = (  # (column, what it means): the table's columns, and its legend
    ("cache_mode", "off, memory (L1 per worker) or tiered (L1, then the shared L2)"),
    ("requests", "requests locust sent in the run"),
    ("failures", "requests answered with an error or not at all"),
    ("duration_s", "seconds the run lasted"),
    ("rps", "requests a second answered"),
    ("p50_ms", "latency percentiles over every request, ms, as locust measured them "
     f"(flagged † from fewer than {FEW} requests)"),
    ("p95_ms", ""), ("p99_ms", ""),
    ("hit_l1", "items answered by each tier (a batch counts each item)"),
    ("hit_l2", ""), ("miss", ""),
    ("expected_hit_rate", "share of items a cache should answer, given the scenario's payloads "
     "and the items actually sent (see below)"),
    ("measured_hit_rate", "share of items answered from L1 or L2"),
)  # fmt: skip


def _flag(text: str, samples: int | None) -> str:
    """A figure, marked † when it is a percentile of fewer than `FEW` samples."""
    if samples is not None and samples < FEW:
        return f"<span title='{samples} samples' class=few>{html.escape(text)} †</span>"
    return html.escape(text)


def legend_html(pairs: Iterable[tuple[str, str]]) -> str:
    """What each column of a table means, as a definition list under it."""
    items = "".join(f"<dt>{html.escape(a)}</dt><dd>{html.escape(b)}</dd>" for a, b in pairs)
    return f"<dl class=legend>{items}</dl>"


def _summary_legend() -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for column, meaning in SUMMARY:
        if meaning:
            pairs.append((column, meaning))
        else:  # shares the meaning of the column before
            pairs[-1] = (f"{pairs[-1][0]} {column}", pairs[-1][1])
    return pairs


def _table(modes: list[dict]) -> str:
    head = "".join(f"<th>{c}</th>" for c, _ in SUMMARY)
    body = "".join(
        "<tr>"
        + "".join(f"<td>{_flag(str(row[c]), row['requests'] if c.startswith('p') else None)}"
                  "</td>" for c, _ in SUMMARY)
        + "</tr>"
        for row in modes
    )  # fmt: skip
    return f"<table><tr>{head}</tr>{body}</table>{legend_html(_summary_legend())}"


def _percentiles(figures: dict | None, mean: bool = False) -> str:
    if not figures:
        return "—"
    text = f"p50 {figures['p50']:g} / p99 {figures['p99']:g}"
    text += f" / mean {figures['mean']:g}" if mean else ""
    return _flag(f"{text} (n={figures['n']:,})", figures["n"])


def _count(value: Any) -> str:
    return (
        "—"
        if value is None
        else html.escape(f"{value:,}" if isinstance(value, int) else str(value))
    )


COST_PARTS = {"lambda_compute": "Lambda compute (GB-seconds)", "lambda_requests": "Lambda requests",
              "api_gateway_rest": "API Gateway REST requests", "dynamodb_reads": "DynamoDB reads",
              "dynamodb_writes": "DynamoDB writes", "cloudwatch_logs": "CloudWatch Logs",
              "total": "total"}  # fmt: skip

# (row label, the cell from a mode's Lambda view); a row no mode measured is left out
LAMBDA_ROWS: tuple[tuple[str, Callable[[dict], str]], ...] = (
    ("containers started (cold starts)", lambda v: _count(v["containers_started"])),
    ("containers that loaded the model", lambda v: _count(v["containers_loading_model"])),
    ("peak concurrent containers", lambda v: _count(v["peak_concurrent_containers"])),
    ("first response ms, first request cached",
     lambda v: _percentiles((v["first_response_ms"] or {}).get("cached"))),
    ("first response ms, first request uncached",
     lambda v: _percentiles((v["first_response_ms"] or {}).get("uncached"))),
    *((f"handler ms, {o}", lambda v, o=o: _percentiles(v["handler_ms_by_outcome"][o]))
      for o in Outcome),
    ("billed ms", lambda v: _percentiles(v["billed_ms"], mean=True)),
    *((f"share of items, {o}", lambda v, o=o: _count(v["hit_rate"][o])) for o in Outcome),
    ("L1 hit rate per container", lambda v: _percentiles(v["l1_hit_rate_per_container"])),
    ("log bytes per request", lambda v: _count(v["log_bytes_per_request"])),
    *((f"USD per 1M requests, {name}",
       lambda v, part=part: _count((v["cost_per_million_requests_usd"] or {}).get(part)))
      for part, name in COST_PARTS.items()),
)  # fmt: skip


def _lambda_table(modes: list[dict]) -> str:
    """What the stack itself reported per mode: the containers' figures and their cost on
    the Lambda stack; on a local stack only the server's lookup times (no containers, no
    API Gateway: nothing of theirs is shown or priced)."""
    rows = [row for row in modes if row.get("lambda")]
    if not rows:
        return ""
    views = [row["lambda"] for row in rows]
    head = "<tr><th></th>" + "".join(f"<th>{html.escape(r['cache_mode'])}</th>" for r in rows)
    body = ""
    for label, cell in LAMBDA_ROWS:
        cells = [cell(view) for view in views]
        if all(c == "—" for c in cells):
            continue
        body += f"<tr><th class=l>{html.escape(label)}</th>" + "".join(
            f"<td>{c}</td>" for c in cells
        ) + "</tr>"  # fmt: skip
    costs = views[0]["cost_per_million_requests_usd"]
    if views[0]["invocations"]:
        title = "Lambda view"
        about = (
            "Reported by the containers themselves (one line per invocation: container id, "
            "cold start, model loaded, handler duration); billed ms are rounded up to 1 ms, "
            "init included on cold starts. USD per million requests at AWS prices as of "
            f"{html.escape(costs['prices_as_of'])} ({costs['region']}, service/ops/prices.py), "
            f"{views[0]['memory_mb']} MB, behind the REST API that serverless-offline emulates."
        )
    else:
        title = "Server view (local stack)"
        about = (
            "A local stack is one server process: it has no containers, no cold starts and "
            "no API Gateway, so none of theirs is shown and nothing is priced. Its lookup "
            "times stand for the handler's. For containers and cost: make stress STACK=lambda "
            "(serverless-offline), or make simulate."
        )
    note = (f"<p class=note>† a percentile of fewer than {FEW} samples: noise, not a "
            "finding (an L2 hit's p50 from a handful can sit above a miss's).</p>")  # fmt: skip
    return f"<h2>{title}</h2><p>{about}</p><table>{head}</tr>{body}</table>{note}"


def _setting(value: Any) -> str:
    """A setting as a person writes it: a list as its items, nothing as a dash."""
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return "—" if value in (None, "") else str(value)


def _settings(params: dict) -> str:
    rows = "".join(
        f"<tr><th class=l>{html.escape(k)}</th><td class=l>{html.escape(_setting(v))}</td></tr>"
        for k, v in params.items()
    )
    return f"<details><summary>Every setting of the run</summary><table>{rows}</table></details>"


def _figures(out: Path, modes: list[dict]) -> str:
    charts = [
        ("Hit rate per tier over time", hit_rate_over_time(out, modes),
         "Share of items answered by each tier, per second; dashed: the expected hit rate."),
        ("Latency percentiles per outcome", latency_by_outcome(modes),
         "Client-side (locust) latency of single predictions, split by X-Cache; n: requests, "
         f"† fewer than {FEW}: too few for a percentile to mean much."),
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
<style>body{{font-family:system-ui,sans-serif;max-width:1200px;margin:1.5em auto;padding:0 1em}}
table{{border-collapse:collapse;font-size:13px}}
td,th{{border:1px solid #ccc;padding:3px 6px;text-align:right}}th{{background:#f3f3f3}}
.l{{text-align:left}}.few{{color:#b5452b}}p.note{{font-size:13px;color:#444}}
dl.legend{{font-size:13px;color:#444;display:grid;grid-template-columns:max-content 1fr;
gap:2px 12px}}dl.legend dt{{font-weight:600}}dl.legend dd{{margin:0}}
img{{max-width:100%}}</style></head><body>
<h1>predcache stress report</h1>
<p>Scenario <b>{html.escape(params["scenario"])}</b>, {params["users"]} users,
{params["duration"]} s per mode, seed {params["seed"]}, stack {html.escape(params["stack"])},
created {summary["created"]}.</p>{_settings(params)}
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
