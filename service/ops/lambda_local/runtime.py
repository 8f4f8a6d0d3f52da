"""The Lambda runtime's side of a cold start, on this machine: Python 3.12 and the
botocore it provides, beside an unzipped package (whose zip leaves botocore out)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from service.ops.template import runtime_version

RUNTIME_VERSION = runtime_version()  # serverless.yml's provider.runtime, e.g. "3.12"
# What the runtime provides and the zip leaves out, at the versions this project runs.
PROVIDED = ("botocore", "jmespath", "urllib3", "python-dateutil", "six")
RUNTIME_DIRS = Path(".predcache")
# One cold container: answer the events (argv[1], a JSON list; "hooks" runs SnapStart's
# before-snapshot then after-restore hooks), one JSON reply per line, then its facts:
# the modules it imported from TASK without bytecode (each compiled at import, as on
# every cold start in Lambda), every file it imported, mapped or
# opened (an audit hook sees each `open`, data files included).
CONTAINER = """
import importlib.util, json, os, sys
seen = set()
sys.addaudithook(lambda event, args: event == "open" and isinstance(args[0], str)
                 and seen.add(args[0]))
from service.handler import handler
import snapshot_restore_py as hooks
for event in json.loads(sys.argv[1]):
    if event == "hooks":
        for registry in (hooks._before_snapshot_registry, hooks._after_restore_registry):
            for function, args, kwargs in registry:
                function(*args, **kwargs)
        continue
    r = handler(event, None)
    print(json.dumps({"status": r["statusCode"], "body": r["body"]}))
task = os.environ["TASK"]
files = {getattr(m, "__file__", None) or "" for m in list(sys.modules.values())}
files |= {line.split()[-1] for line in open("/proc/self/maps") if ".so" in line} | seen
print(json.dumps({"opened": sorted(files), "compiled": sorted(
    f for f in files if f.startswith(task) and f.endswith(".py")
    and not os.path.exists(importlib.util.cache_from_source(f)))}))
"""


def runtime_python(version: str = RUNTIME_VERSION) -> str | None:
    """A Python of the Lambda runtime's version (`3.12`; PATH's, then pyenv's, newest
    first: the order deploy/runtime.js looks in, passing over a pyenv shim as it does),
    or None."""
    versions = Path.home() / ".pyenv" / "versions"
    installed = [*versions.glob(version), *versions.glob(f"{version}.*")]
    pyenv = [str(v / "bin" / f"python{version}") for v in sorted(installed, reverse=True)]
    dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and Path(d).parts[-2:] != (".pyenv", "shims")]  # fmt: skip
    on_path = shutil.which(f"python{version}", path=os.pathsep.join(dirs))
    for candidate in [*([on_path] if on_path else []), *pyenv]:
        with contextlib.suppress(OSError):
            done = subprocess.run([candidate, "--version"], capture_output=True, text=True)
            if done.returncode == 0 and done.stdout.startswith(f"Python {version}."):
                return candidate
    return None


def provided_packages(python: str, version: str = RUNTIME_VERSION) -> Path:
    """botocore and its dependencies, installed once per botocore version for the
    runtime's Python (`version`) and compiled, as the runtime has them."""
    pins = [f"{name}=={metadata.version(name)}" for name in PROVIDED]
    folder = RUNTIME_DIRS / f"lambda-runtime-{version}" / f"botocore-{metadata.version('botocore')}"
    installed(folder, python, ["--no-deps", *pins])
    return folder.resolve()


def installed(folder: Path, python: str, pip_args: list[str]) -> Path:
    """`folder`, made once by `pip install --target` and compiled by `python`; built
    beside it and moved in whole, so processes asking at once never see half of it."""
    if folder.is_dir():
        return folder
    building = folder.with_name(f"{folder.name}.{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet",
                    "--disable-pip-version-check", "--target", str(building), *pip_args],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run([python, "-m", "compileall", "-q", str(building)], check=True)
    try:
        building.rename(folder)
    except OSError:  # another process made it first
        shutil.rmtree(building, ignore_errors=True)
    return folder


def lambda_env(task: Path, provided: Path) -> dict[str, str]:
    """The environment of a function whose code is `task`: no bytecode can be written
    (a new Lambda environment has only what the zip holds), the artifact is the zip's."""
    env = {**os.environ, "PYTHONPATH": f"{task}:{provided}", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("MODEL_PATH", None)
    return env


def run_container(
    python: str, task: Path, env: dict[str, str], events: list
) -> tuple[list[dict], dict]:
    """Run `CONTAINER` on the unzipped package `task`: its replies and its facts (with
    the count of EMF metric lines it printed, and its log lines)."""
    done = subprocess.run(
        [python, "-c", CONTAINER, json.dumps(events)],
        env={**env, "TASK": str(task)}, capture_output=True, text=True, cwd=task.parent,
        timeout=300,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"the container failed: {done.stderr[-2000:]}")
    printed = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    replies = [line for line in printed if "status" in line]
    (facts,) = [line for line in printed if "opened" in line]
    emf_lines = sum("_aws" in line for line in printed)
    return replies, facts | {"emf_lines": emf_lines, "log": done.stderr.splitlines()}


@contextlib.contextmanager
def package_variants(zip_path: Path) -> Iterator[tuple[str, dict[str, dict[str, str]]]]:
    """The runtime's Python and the environments of the package unzipped twice: as
    shipped, and with its bytecode removed (what a zip without .pyc files costs)."""
    python = runtime_python()
    if python is None:
        raise SystemExit(f"the package runs on Python {RUNTIME_VERSION}: install it")
    provided = provided_packages(python)
    with tempfile.TemporaryDirectory(prefix="predcache-package-") as tmp:
        shipped, bare = Path(tmp) / "shipped", Path(tmp) / "no-bytecode"
        with zipfile.ZipFile(zip_path) as archive:
            archive.extractall(shipped)
        shutil.copytree(shipped, bare)
        for pyc in bare.rglob("*.pyc"):
            pyc.unlink()
        yield (
            python,
            {
                "as shipped": lambda_env(shipped, provided),
                "no .pyc": lambda_env(bare, provided),
            },
        )
