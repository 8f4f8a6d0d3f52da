"""Which files of the Lambda zip a running function opens, and which it never does.

    .venv/bin/python deploy/trace_package.py [.serverless/predcache.zip]

Unzips the package and runs it on Python 3.12 against an embedded table, three cold
containers: a miss, a batch, /health, /stats, /openapi.json, /docs, a 404 and two
422s; then one whose first request is an L2 hit; then one that loads the model at
init and runs SnapStart's hooks. Prints the bytes they opened (modules imported,
shared objects mapped) against the bytes shipped, and the largest files none of them
opened: the candidates for `slimPatterns` in serverless.yml. Files read as data (the
model artifact, JSON) are not traced and show as never opened. A file listed may still
be opened on a path these runs do not take (an error path, another model): read
where it is imported from before dropping it.
"""

from __future__ import annotations

import sys
import tempfile
import uuid
import zipfile
from pathlib import Path

from service.ops.local import embedded_table, local_env
from stress_test.bench.events import http_api_v2_event
from stress_test.bench.lambda_runtime import (
    lambda_env,
    provided_packages,
    run_container,
    runtime_python,
)
from stress_test.payloads import unique_payloads


def _runs() -> list[tuple[dict[str, str], list]]:
    """(extra environment, events) for each container."""
    first, second = unique_payloads(2, offset=950_000)
    get = [http_api_v2_event(None, path, "GET") for path in ("/health", "/stats", "/nope")]
    docs = [http_api_v2_event(None, path, "GET") for path in ("/openapi.json", "/docs")]
    bad = [http_api_v2_event({**first, "hour": 99}), http_api_v2_event("{oops")]
    batch = http_api_v2_event({"items": [first, second]}, "/predict/batch")
    return [
        ({}, [http_api_v2_event(first), batch, *get, *docs, *bad]),
        ({}, [http_api_v2_event(first)]),
        ({"MODEL_PRELOAD": "1"}, ["hooks", http_api_v2_event(second)]),
    ]


def opened_files(zip_path: Path, task: Path) -> set[str]:
    """The files of the unzipped package that the three containers opened."""
    python = runtime_python()
    if python is None:
        raise SystemExit("the package runs on Python 3.12: install it")
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(task)
    table = f"trace-{uuid.uuid4().hex[:8]}"
    opened: set[str] = set()
    with embedded_table(table) as endpoint:
        env = {**lambda_env(task, provided_packages(python)), **local_env(endpoint),
               "CACHE_MODE": "tiered", "CACHE_TABLE": table}  # fmt: skip
        for extra, events in _runs():
            replies, facts = run_container(python, task, env | extra, events)
            statuses = [reply["status"] for reply in replies]
            print(f"container: {len(events)} events -> {statuses}")
            opened |= {str(Path(f).resolve()) for f in facts["opened"]}
    return opened


def _opened(path: Path, opened: set[str]) -> bool:
    """Whether a container opened `path`; bytecode counts with its module's source."""
    if path.parent.name == "__pycache__":
        path = path.parent.parent / f"{path.name.split('.')[0]}.py"
    return str(path) in opened


def main() -> None:
    zip_path = Path(sys.argv[1] if len(sys.argv) > 1 else ".serverless/predcache.zip")
    with tempfile.TemporaryDirectory(prefix="predcache-trace-") as tmp:
        task = Path(tmp).resolve() / "task"
        opened = opened_files(zip_path, task)
        sizes = {p: p.stat().st_size for p in task.rglob("*") if p.is_file()}
    used = {p for p in sizes if _opened(p, opened)}
    unused = sorted(((size, p) for p, size in sizes.items() if p not in used), reverse=True)
    total, never = sum(sizes.values()), sum(size for size, _ in unused)
    print(f"shipped {total:,} bytes; opened {total - never:,}; never opened {never:,}")
    for size, path in unused[:40]:
        print(f"  {size:>11,}  {path.relative_to(task)}")


if __name__ == "__main__":
    main()
