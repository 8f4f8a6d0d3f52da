"""What each column of a simulated run shows, and what it means: the terminal table
(`predcache simulate`) and the report's table print the same columns with the same
words, so runs compare however they are read."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

from cache.outcome import Outcome
from stress_test.simulation.aws import REFUSALS

Column = tuple[str, int, Callable[[dict[str, Any]], str], str]  # header, width, figure, meaning

CODES = (429, 500, 502, 503, 504)  # a refusal column per status a client can see


def _refused(row: dict[str, Any], code: int) -> int:
    return sum(row["refused"][s.field] for s in REFUSALS if s.code == code)


def _p(row: dict[str, Any], name: str) -> str:
    return f"{(row['latency_ms'] or {}).get(name, float('nan')):.1f}"


COLUMNS: tuple[Column, ...] = (  # each printed with its meaning under the table
    ("door", 5, lambda r: r["front"], "the front door: rest (API Gateway REST API), http "
     "(HTTP API) or url (function URL)"),
    ("offered/s", 9, lambda r: f"{r['rps']:.1f}", "requests a second sent (open loop: the "
     "rate; closed loop: what the users sent, retries of refusals included)"),
    ("answered/s", 10, lambda r: f"{r['answered_rps']:.1f}",
     "requests a second answered 200 (by L0, L1, L2 or the model); a request still "
     "waiting for a cold environment when the run ends is neither answered nor refused"),
    ("L0", 6, lambda r: f"{r['l0_hit_rate'] or 0:.3f}",
     "share of answers from API Gateway's cache (rest with --l0-ttl only)"),
    *((o.field, 7, lambda r, o=o: f"{r['hit_rate'][o] or 0:.3f}",
       "share of the function's answers from L1, from L2, from the model") for o in Outcome),
    ("steady miss", 11, lambda r: f"{r['steady_hit_rate'][Outcome.MISS] or 0:.4f}",
     "share of MISS over the second half of the run, once the caches have filled"),
    ("first seen", 10, lambda r: f"{r['first_sightings'] or 0:.4f}", "share of requests "
     "whose payload had not been sent before: what even a shared cache must miss"),
    ("envs", 6, lambda r: str(r["containers_started"]),
     "execution environments started (cold starts)"),
    ("loads", 6, lambda r: str(r["containers_loading_model"]),
     "environments that loaded the model (on their first MISS)"),
    ("peak", 6, lambda r: str(r["peak_concurrent_containers"]),
     "most environments busy at once (what Lambda concurrency counts)"),
    *((str(code), 6, lambda r, code=code: str(_refused(r, code)),
       "requests refused with that status (by whom and why: the report's chart, "
       "simulation.json's 'refused')")
      for code in CODES),
    ("p50 ms", 8, lambda r: _p(r, "p50"), "median latency of answered requests, ms"),
    ("p99 ms", 8, lambda r: _p(r, "p99"), "99th percentile latency of answered requests, ms"),
    ("$/1M", 7, lambda r: f"{r['cost_per_million_requests_usd']['total']:.2f}",
     "USD per million answered requests (x86_64; prices: docs/capacity.md)"),
    ("$/month", 10, lambda r: f"{r['monthly_usd_at_this_rate']:,.0f}",
     "USD for 30 days at this run's offered rate and mix"),
    ("refused x0.5-x2", 16,
     lambda r: "-".join(str(v["refused"]) for v in r["sensitivity"].values()) or "-",
     "requests refused with the measured init and model load times halved, then doubled"),
)  # fmt: skip


def legend() -> Iterator[tuple[str, str]]:
    """(headers, meaning): columns that share a meaning once, their headers joined."""
    for meaning, group in itertools.groupby(COLUMNS, key=lambda column: column[3]):
        yield " ".join(column[0] for column in group), meaning


def print_markdown(heads: list[str], lines: list[list[str]]) -> None:
    """A markdown table: text columns left, figures right."""
    right = [all(_figure(line[i]) for line in lines) for i in range(len(heads))]
    print("| " + " | ".join(heads) + " |")
    print("|" + "|".join("---:" if r else "---" for r in right) + "|")
    for line in lines:
        print("| " + " | ".join(line) + " |")


def _figure(cell: str) -> bool:
    return cell.replace(",", "").replace(".", "").replace("-", "").isdigit() or cell == "nan"
