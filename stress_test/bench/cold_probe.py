"""One cold Lambda container in miniature: import the handler, answer one event, report.

Run by `stress_test.bench.cold` in a fresh interpreter, by path, so that it also runs
beside an unzipped Lambda package (it imports nothing but the handler); prints one JSON
line.

    python stress_test/bench/cold_probe.py EVENT            a cold start
    python stress_test/bench/cold_probe.py --restore EVENT  SnapStart's stand-in

`--restore` runs init and the registered before-snapshot hooks (the model loads), then
forks: the child, standing in for a container restored from that snapshot, runs the
after-restore hooks and answers; its `total_s` is fork to first response. What the
stand-in leaves out: Firecracker's own restore (the snapshot's pages loaded from the
cache), and page faults as the restored memory is first touched.
"""

from __future__ import annotations

import json
import os
import sys
import time

started = time.perf_counter()


def _answer(handler, event: dict, since: float, **extra: object) -> None:
    ready = time.perf_counter()
    response = handler(event, None)
    answered = time.perf_counter()
    body = json.loads(response["body"])
    report = {
        "status": response["statusCode"],
        "cache": body.get("cache"),
        "value": {k: v for k, v in body.items() if k not in ("cache", "model_version")},
        "model_version": body.get("model_version"),
        "init_s": ready - since,
        "first_request_s": answered - ready,
        "sklearn_imported": "sklearn" in sys.modules,
        **extra,
    }
    print(json.dumps(report | {"total_s": answered - since}), flush=True)


def _run_hooks(registry: list) -> None:
    for function, args, kwargs in registry:
        function(*args, **kwargs)


def main() -> None:
    from service.handler import handler

    if sys.argv[1] != "--restore":
        _answer(handler, json.loads(sys.argv[1]), started)
        return
    import snapshot_restore_py as hooks

    _run_hooks(hooks._before_snapshot_registry)  # the runtime's own registry
    forked = time.perf_counter()
    child = os.fork()
    if child == 0:
        _run_hooks(hooks._after_restore_registry)
        _answer(handler, json.loads(sys.argv[2]), forked, restored=True)
        os._exit(0)
    os.waitpid(child, 0)


if __name__ == "__main__":
    main()
