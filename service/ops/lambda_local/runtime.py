"""The Lambda runtime's side of a cold start, on this machine: Python 3.12 and the
botocore it provides, beside an unzipped package (whose zip leaves botocore out)."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
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
# opened (an audit hook sees each `open`, data files included), its peak memory (RSS) and
# how long its init and each event took.
CONTAINER = """
import importlib.util, json, os, resource, sys, time
started = time.perf_counter()
seen = set()
sys.addaudithook(lambda event, args: event == "open" and isinstance(args[0], str)
                 and seen.add(args[0]))
from service.handler import handler
import snapshot_restore_py as hooks
seconds = [time.perf_counter() - started]
for event in json.loads(sys.argv[1]):
    began = time.perf_counter()
    if event == "hooks":
        for registry in (hooks._before_snapshot_registry, hooks._after_restore_registry):
            for function, args, kwargs in registry:
                function(*args, **kwargs)
        continue
    r = handler(event, None)
    seconds.append(time.perf_counter() - began)
    print(json.dumps({"status": r["statusCode"], "body": r["body"]}))
task = os.environ["TASK"]
files = {getattr(m, "__file__", None) or "" for m in list(sys.modules.values())}
files |= {line.split()[-1] for line in open("/proc/self/maps") if ".so" in line} | seen
print(json.dumps({"opened": sorted(files), "compiled": sorted(
    f for f in files if f.startswith(task) and f.endswith(".py")
    and not os.path.exists(importlib.util.cache_from_source(f))),
    "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    "init_s": seconds[0], "seconds": seconds[1:]}))
"""
# Lambda's own variables for a function (AWS Lambda developer guide, "Defined runtime
# environment variables", docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html,
# read 2026-12-07), `/var/task` being the unzipped package: what a check's container gets,
# with the template's variables, and nothing of this machine's
LAMBDA_PATH = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
LAMBDA_LIBRARY_PATH = (
    "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:{task}:{task}/lib:/opt/lib"
)


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
    """This machine's environment for a function whose code is `task` (a benchmark's):
    no bytecode can be written (a new Lambda environment has only what the zip holds),
    the artifact is the zip's."""
    env = {**os.environ, "PYTHONPATH": f"{task}:{provided}", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("MODEL_PATH", None)
    return env


def defined_variables(task: Path, provided: Path, runtime: str, memory_mib: int) -> dict:
    """The variables Lambda sets for a Python function whose code is `task` (and whose
    runtime's own packages are `provided`), as a package check's container gets them."""
    return {
        "_HANDLER": "service.handler.handler",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "AWS_LAMBDA_FUNCTION_NAME": "predcache-package-check",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mib),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/predcache-package-check",
        "AWS_LAMBDA_LOG_STREAM_NAME": "check",
        "LAMBDA_TASK_ROOT": str(task),
        "LAMBDA_RUNTIME_DIR": str(provided),
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "PATH": LAMBDA_PATH,
        "LD_LIBRARY_PATH": LAMBDA_LIBRARY_PATH.format(task=task),
        "PYTHONPATH": f"{task}:{provided}",
        "PYTHONDONTWRITEBYTECODE": "1",
    }


# where a sandbox keeps this machine's /tmp while its own private /tmp is mounted, so
# that code living under /tmp (a checkout, a test's folder) stays where it was
HOST_TMP = Path("/run/predcache-sandbox-host-tmp")


@dataclass(frozen=True)
class Sandbox:
    """Lambda's file system for a container: the code (`read_only`: the task root and
    the runtime's folders) read-only even for root, and a private `/tmp` of the
    function's ephemeral size, in a mount namespace of its own (`unshare`). Code that
    lives under this machine's /tmp is bound back at its own path, read-only."""

    read_only: tuple[Path, ...]
    tmp_mib: int = 512

    def wrap(self, command: list[str]) -> list[str]:
        quote = shlex.quote
        steps = ["set -e"]
        steps += [f"mount --bind -o ro {quote(str(p))} {quote(str(p))}" for p in self.read_only]
        under_tmp = [p for p in self.read_only if Path("/tmp") in p.parents]
        if under_tmp:
            steps += [f"mkdir -p {HOST_TMP}", f"mount --rbind /tmp {HOST_TMP}"]
        steps.append(f"mount -t tmpfs -o size={self.tmp_mib}m lambda-tmp /tmp")
        for path in under_tmp:
            kept = quote(str(HOST_TMP / path.relative_to("/tmp")))
            steps += [f"mkdir -p {quote(str(path))}",
                      f"mount --bind -o ro {kept} {quote(str(path))}"]  # fmt: skip
        steps.append('exec "$@"')
        return ["unshare", "--mount", "--propagation", "private", "--",
                "sh", "-c", "\n".join(steps), "sandbox", *command]  # fmt: skip


@functools.cache
def sandbox_refusal() -> str | None:
    """Why a container cannot get Lambda's file system on this machine (no `unshare`,
    no right to mount), or None."""
    if shutil.which("unshare") is None:
        return "no unshare command (util-linux)"
    probe = Sandbox((Path.cwd(),), 1).wrap(["true"])
    done = subprocess.run(probe, capture_output=True, text=True)
    return None if done.returncode == 0 else (done.stderr.strip().splitlines() or ["failed"])[-1]


def run_container(
    python: str, task: Path, env: dict[str, str], events: list, sandbox: Sandbox | None = None
) -> tuple[list[dict], dict]:
    """Run `CONTAINER` on the unzipped package `task` (in `sandbox`, when given): its
    replies and its facts (with the count of EMF metric lines it printed, and its log
    lines)."""
    command = [python, "-c", CONTAINER, json.dumps(events)]
    done = subprocess.run(
        sandbox.wrap(command) if sandbox else command,
        env={**env, "TASK": str(task)}, capture_output=True, text=True, cwd=task,
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
