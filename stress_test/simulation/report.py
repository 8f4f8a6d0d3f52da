"""`predcache simulate --out/--reports`'s HTML: the limit per door, the runs as a table
with the terminal's columns and words, and charts (refusals by cause, cost per door,
answers by tier, the rate sweep as a curve with the limit marked), inlined as PNG and
readable at 1,280 px."""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

from stress_test.report import COLOURS, OUTCOMES, legend_html, png
from stress_test.simulation.aws import CAUSES, DOORS
from stress_test.simulation.columns import COLUMNS, legend
from stress_test.simulation.limit import FLOOR, above, binding, spread
from stress_test.simulation.limit import legend as limit_legend

WIDTH_IN = 11.5  # inches at 96 dpi: ~1,100 px, inside a 1,280 px window with margins
DOOR_COLOURS = {"rest": "#264653", "http": "#2a9d8f", "url": "#e9c46a"}
PALETTE = ("#e76f51", "#f4a261", "#e9c46a", "#8ab17d", "#9d4edd", "#6a4c93", "#264653",
           "#2a9d8f", "#577590")  # fmt: skip
CAUSE_COLOURS = dict(zip(CAUSES, PALETTE, strict=True))
STYLE = """body{font-family:system-ui,sans-serif;max-width:1240px;margin:1.5em auto;padding:0 .6em;
color:#222}table{border-collapse:collapse;font-size:12px;margin:.5em 0}
td,th{border:1px solid #ccc;padding:2px 3px;text-align:right;white-space:nowrap}
th{background:#f3f3f3;white-space:normal;vertical-align:bottom}td.l,th.l{text-align:left}.wide{overflow-x:auto}
dl.legend{font-size:13px;color:#444;display:grid;grid-template-columns:max-content 1fr;
gap:2px 12px;margin:.3em 0 1.5em}dl.legend dt{font-weight:600}dl.legend dd{margin:0}
img{max-width:100%}p.note{font-size:13px;color:#444}"""


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _varied(runs: list[dict]) -> list[str]:
    """The settings that differ between runs (what a sweep or --levers varies)."""
    names = [k for k in runs[0]["config"] if len({str(r["config"].get(k)) for r in runs}) > 1]
    return [k for k in names if k not in ("mode", "front", "users")]


def _g(value: Any) -> Any:
    """A float setting as written (250, not 250.0)."""
    return f"{value:g}" if isinstance(value, float) else value


def _label(run: dict, varied: list[str]) -> str:
    settings = [f"{k}={_g(run['config'][k])}" for k in varied if k != "lever"]
    lever = [run["config"]["lever"]] if "lever" in varied else []
    return " ".join([run["cache_mode"], run["front"], *lever, *settings])


def _legend_below(ax: Any, columns: int) -> None:
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=columns, fontsize=8,
              frameon=False)  # fmt: skip


def _run_axes(labels: list[str]) -> tuple[Any, Any]:
    """A chart with one horizontal bar per run, as tall as the runs need."""
    return _plt().subplots(figsize=(WIDTH_IN, 0.35 * len(labels) + 1.4))


def _finish(fig: Any, ax: Any, xlabel: str, legend_columns: int = 0) -> str:
    """The first run on top, the axis named, the legend (if any) below: the PNG."""
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.tick_params(axis="y", labelsize=8)
    if legend_columns:
        _legend_below(ax, legend_columns)
    return png(fig)


def _stacked(labels: list[str], series: list[tuple[str, list[float], str]], xlabel: str) -> str:
    """Stacked bars per run: `series` of (name, value per run, colour)."""
    fig, ax = _run_axes(labels)
    left = [0.0] * len(labels)
    for name, values, colour in series:
        ax.barh(labels, values, left=left, color=colour, label=name)
        left = [a + b for a, b in zip(left, values, strict=True)]
    return _finish(fig, ax, xlabel, len(series))


def _refusals_chart(runs: list[dict], labels: list[str]) -> str | None:
    counted = [binding(run, steady=False) for run in runs]
    causes = [c for c in CAUSES if any(c in row for row in counted)]
    if not causes:
        return None
    series = [(CAUSES[c][0], [row.get(c, 0) for row in counted], CAUSE_COLOURS[c]) for c in causes]
    return _stacked(labels, series, "requests refused in the run")


def _cost_chart(runs: list[dict], labels: list[str]) -> str:
    fig, ax = _run_axes(labels)
    costs = [run["cost_per_million_requests_usd"]["total"] for run in runs]
    ax.barh(labels, costs, color=[DOOR_COLOURS[run["front"]] for run in runs])
    for y, cost in enumerate(costs):
        ax.annotate(f"${cost:.2f}", (cost, y), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=8)  # fmt: skip
    return _finish(fig, ax, "USD per million answered requests (x86_64)")


def _tiers_chart(runs: list[dict], labels: list[str]) -> str:
    series = [(o, [run["hit_rate"][o] or 0 for run in runs], COLOURS[o]) for o in OUTCOMES]
    return _stacked(labels, series, "share of the function's answers")


def _rate_curve(runs: list[dict], limits: list[dict]) -> str | None:
    """Answered against offered req/s per mode and door, the limits as vertical lines."""
    if len({run["config"]["rate"] for run in runs}) < 3:
        return None
    plt = _plt()
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 4.2))
    top = max(run["rps"] for run in runs)
    ax.plot([0, top], [0, top], color="#bbb", linestyle="-", linewidth=1, label="all answered")
    series = sorted({(run["cache_mode"], run["front"]) for run in runs})
    for mode, door in series:
        points = sorted((r["rps"], r["answered_rps"]) for r in runs
                        if (r["cache_mode"], r["front"]) == (mode, door))  # fmt: skip
        ax.plot(*zip(*points, strict=True), marker="o", color=DOOR_COLOURS[door],
                label=f"{mode} {door}")  # fmt: skip
        for limit in limits:
            if (limit["mode"], limit["front"]) != (mode, door):
                continue
            for name, style in (("standing_start", "--"), ("steady_state", ":")):
                if limit[name] and limit[name]["rate"] <= top * 1.05:
                    ax.axvline(limit[name]["rate"], color=DOOR_COLOURS[door], linestyle=style,
                               label=f"{door}: limit, {name.replace('_', ' ')}")  # fmt: skip
    ax.set_xlabel("offered req/s")
    ax.set_ylabel("answered req/s")
    _legend_below(ax, 4)
    return png(fig)


def _limits_chart(limits: list[dict]) -> str:
    """Each door's limit, from a standing start (with its x0.5-x2 range) and at steady
    state, on a log scale: the two differ by up to 40x."""
    plt = _plt()
    labels = [f"{limit['mode']} {limit['front']}" for limit in limits]
    fig, ax = plt.subplots(figsize=(WIDTH_IN, 0.45 * len(limits) + 1.5))
    ys = range(len(limits))
    start = [limit["standing_start"]["rate"] for limit in limits]
    steady = [(limit["steady_state"] or {}).get("rate", 0) for limit in limits]
    spans = [sorted(limit["standing_start"]["range"].values()) for limit in limits]
    errors = [[r - s[0] if s else 0 for r, s in zip(start, spans, strict=True)],
              [s[-1] - r if s else 0 for r, s in zip(start, spans, strict=True)]]  # fmt: skip
    ax.barh([y - 0.2 for y in ys], start, 0.4, xerr=errors, color="#e76f51", capsize=3,
            label="standing start (bar: x0.5 to x2 cold starts)")  # fmt: skip
    ax.barh([y + 0.2 for y in ys], steady, 0.4, color="#2a9d8f", label="steady state")
    for y, limit in enumerate(limits):
        for offset, name in ((-0.2, "standing_start"), (0.2, "steady_state")):
            if limit[name]:  # the words start past the bar and its range
                end = max([limit[name]["rate"], *limit[name].get("range", {}).values()])
                ax.annotate(f"{limit[name]['rate']:,.0f}/s, then {above(limit[name])}",
                            (end, y + offset), xytext=(5, 0), textcoords="offset points",
                            va="center", fontsize=7)  # fmt: skip
    ax.set_yticks(list(ys), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlim(FLOOR, max(steady + start) * 30)
    ax.set_xlabel("requests a second answered with no refusal (log scale)")
    _legend_below(ax, 2)
    return png(fig)


def _limit_rows(limits: list[dict]) -> str:
    rows = []
    for limit in limits:
        start, steady = limit["standing_start"], limit["steady_state"] or {}
        cells = [limit["front"], limit["mode"], f"{start['rate']:,.0f}", spread(start),
                 f"{start['cost_per_million_usd']:.2f}", above(start),
                 f"{steady.get('rate', 0):,.0f}", f"{steady.get('cost_per_million_usd', 0):.2f}",
                 above(limit["steady_state"])]  # fmt: skip
        left = (0, 1, 5, 8)
        rows.append("<tr>" + "".join(f"<td{' class=l' * (i in left)}>{html.escape(c)}</td>"
                                     for i, c in enumerate(cells)) + "</tr>")  # fmt: skip
    return "".join(rows)


def _limits_section(limits: list[dict]) -> str:
    by = "<th>$/1M</th><th class=l>refused above by</th>"
    head = (f"<tr><th class=l>door</th><th class=l>mode</th><th>start req/s</th>"
            f"<th>x0.5-x2</th>{by}<th>steady req/s</th>{by}</tr>")  # fmt: skip
    chart = f"<img alt='the limit per door' src='data:image/png;base64,{_limits_chart(limits)}'>"
    return (f"<h2>The limit per door</h2><div class=wide><table>{head}{_limit_rows(limits)}"
            f"</table></div>{legend_html(limit_legend(limits[0]['duration']))}{chart}")  # fmt: skip


def _runs_section(runs: list[dict], varied: list[str]) -> str:
    head = "".join(f"<th class=l>{html.escape(v)}</th>" for v in ["mode", *varied])
    head += "".join(f"<th>{html.escape(c[0])}</th>" for c in COLUMNS)
    body = "".join(
        "<tr>"
        + "".join(f"<td class=l>{html.escape(str(v))}</td>"
                  for v in [run["cache_mode"], *(_g(run["config"][k]) for k in varied)])
        + "".join(f"<td>{html.escape(figure(run))}</td>" for _, _, figure, _ in COLUMNS)
        + "</tr>"
        for run in runs
    )  # fmt: skip
    table = f"<div class=wide><table><tr>{head}</tr>{body}</table></div>"
    return f"<h2>Runs</h2>{table}{legend_html(legend())}"


def _settings(run: dict, varied: list[str]) -> str:
    rows = "".join(
        f"<tr><th class=l>{html.escape(k)}</th><td class=l>{html.escape(str(v))}</td></tr>"
        for k, v in run["config"].items()
        if k not in varied and k not in ("mode", "front", "script")
    )
    summary = "<summary>Every setting the runs share</summary>"
    return f"<details>{summary}<table>{rows}</table></details>"


def _charts(runs: list[dict], limits: list[dict], varied: list[str]) -> str:
    labels = [_label(run, varied) for run in runs]
    charts = [
        ("Answered against offered, the limit marked", _rate_curve(runs, limits),
         "Each point a run at one offered rate; dashed: the standing-start limit, dotted: the "
         "steady-state limit, per door; grey: every request answered."),
        ("Refusals by cause", _refusals_chart(runs, labels),
         "Requests refused in each run, by the limit that refused them (the flags that move "
         "each: predcache simulate --max-rate's legend)."),
        ("Cost per door", _cost_chart(runs, labels),
         "USD per million answered requests; the colour is the front door."),
        ("Answers by tier", _tiers_chart(runs, labels),
         "Share of the function's answers from L1, L2 and the model."),
    ]  # fmt: skip
    return "".join(
        f"<h2>{title}</h2><p class=note>{note}</p><img alt='{title}' "
        f"src='data:image/png;base64,{data}'>"
        for title, data, note in charts
        if data
    )


def write_simulation_report(out: Path, result: dict[str, Any]) -> Path:
    """`out/report.html` from a simulation's result (its runs, its limits, or both)."""
    runs, limits = result.get("runs", []), result.get("limits", [])
    sections = []
    if limits:
        sections.append(_limits_section(limits))
    if runs:
        varied = _varied(runs)
        sections += [_runs_section(runs, varied), _charts(runs, limits, varied),
                     _settings(runs[0], varied)]  # fmt: skip
    about = (f"Scenario <b>{html.escape(runs[0]['scenario'])}</b>, stack "
             f"{html.escape(runs[0]['stack'])}, {runs[0]['config']['duration']:g} s simulated "
             f"per run; prices as of "
             f"{html.escape(runs[0]['cost_per_million_requests_usd']['prices_as_of'])} "
             "(docs/capacity.md).") if runs else ""  # fmt: skip
    doors = ", ".join(f"<a href='{html.escape(door.source)}'>{name}</a>"
                      for name, door in DOORS.items())  # fmt: skip
    page = f"""<!doctype html><html><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width"><title>predcache simulation</title>
<style>{STYLE}</style></head><body><h1>predcache simulation</h1>
<p>Made {time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}. {about}</p>
{"".join(sections)}<p class=note>How each door answers a refusal (AWS's pages): {doors}.
The figures: <a href="simulation.json">simulation.json</a>.</p></body></html>"""
    path = out / "report.html"
    path.write_text(page)
    return path
