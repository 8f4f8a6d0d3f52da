"""`predcache simulate --out`'s HTML: the per-run table and its charts, inlined."""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from stress_test.report import COLOURS, OUTCOMES, png

COLUMNS = ["cache_mode", "rps", "refused", "containers_started", "containers_loading_model",
           "peak_concurrent_containers", "cold_starts_per_hour", "model_loads_per_hour",
           "billed_ms_mean", "monthly_usd_at_this_rate"]  # fmt: skip


def _chart(runs: list[dict]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [
        f"{r['cache_mode']}\n" + ", ".join(f"{k}={v}" for k, v in _swept(runs, r).items())
        for r in runs
    ]
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(14, 3.6))
    bottom = [0.0] * len(runs)
    for outcome in OUTCOMES:
        shares = [r["hit_rate"][outcome] or 0 for r in runs]
        left.bar(labels, shares, bottom=bottom, color=COLOURS[outcome], label=outcome)
        bottom = [b + s for b, s in zip(bottom, shares, strict=True)]
    left.set_title("share of requests per tier")
    width, xs = 0.4, range(len(runs))
    middle.bar([x - width / 2 for x in xs], [r["containers_started"] for r in runs], width,
               label="containers (cold starts)", color="#264653")  # fmt: skip
    middle.bar([x + width / 2 for x in xs], [r["containers_loading_model"] for r in runs],
               width, label="model loads", color="#e76f51")  # fmt: skip
    middle.set_xticks(list(xs), labels)
    middle.set_title("containers and model loads")
    right.bar(labels, [r["cost_per_million_requests_usd"]["total"] for r in runs],
              color="#2a9d8f")  # fmt: skip
    right.set_title("USD per 1M requests")
    for ax in (left, middle, right):
        ax.tick_params(axis="x", labelsize=7)
    left.legend(fontsize=7)
    middle.legend(fontsize=7)
    return png(fig)


def _table(runs: list[dict]) -> str:
    head = "".join(f"<th>{c}</th>" for c in ["config", *COLUMNS, "hit rate", "latency", "$/1M"])
    body = "".join(
        "<tr>"
        + f"<td>{html.escape(json.dumps(_swept(runs, r)))}</td>"
        + "".join(f"<td>{html.escape(str(r[c]))}</td>" for c in COLUMNS)
        + f"<td>{html.escape(json.dumps(r['hit_rate']))}</td>"
        + f"<td>{html.escape(json.dumps(r['latency_ms']))}</td>"
        + f"<td>{r['cost_per_million_requests_usd']['total']}</td></tr>"
        for r in runs
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def write_simulation_report(out: Path, runs: list[dict]) -> Path:
    as_of = runs[0]["cost_per_million_requests_usd"]["prices_as_of"]
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<title>predcache simulation</title><style>body{{font-family:sans-serif;margin:2em}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:3px 6px}}
img{{max-width:100%}}</style></head><body><h1>predcache simulation</h1>
<p>Scenario <b>{html.escape(runs[0]["scenario"])}</b>, stack {html.escape(runs[0]["stack"])};
configuration: <code>{html.escape(json.dumps(runs[0]["config"]))}</code>. Prices as of
{html.escape(as_of)}.</p><img alt="simulation" src="data:image/png;base64,{_chart(runs)}">
{_table(runs)}</body></html>"""
    path = out / "report.html"
    path.write_text(page)
    return path


def _swept(runs: list[dict], run: dict) -> dict[str, Any]:
    """The settings that differ between the runs (what a sweep varies), for this run."""
    names = [k for k in run["config"] if len({str(r["config"][k]) for r in runs}) > 1]
    return {k: run["config"][k] for k in names if k != "mode"}
