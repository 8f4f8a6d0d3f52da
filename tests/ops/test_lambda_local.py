"""The local Lambda's sandbox (service/ops/lambda_local/runtime.py): the code read-only
even for root, a private /tmp of the function's size, and Lambda's variables only."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from service.ops.lambda_local.runtime import Sandbox, defined_variables, sandbox_refusal


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    if (refused := sandbox_refusal()) is not None:
        pytest.fail(f"no sandbox on this machine: {refused}")
    task = Path.home() / ".cache" / "predcache-test" / uuid.uuid4().hex  # not under /tmp
    task.mkdir(parents=True)
    yield Sandbox((task,), tmp_mib=1)
    for child in task.iterdir():
        child.unlink()
    task.rmdir()


def run(sandbox: Sandbox, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(sandbox.wrap(["sh", "-c", script]), capture_output=True, text=True)


def test_the_code_is_read_only_even_for_root(sandbox: Sandbox) -> None:
    (task,) = sandbox.read_only
    done = run(sandbox, f"echo x > {task}/beside_me.txt")
    assert done.returncode != 0 and "Read-only file system" in done.stderr
    assert not (task / "beside_me.txt").exists()
    (task / "outside.txt").write_text("the host may still write it")  # only the sandbox is ro


def test_tmp_is_private_and_as_large_as_the_function_says(sandbox: Sandbox) -> None:
    name = f"predcache-{uuid.uuid4().hex}"
    done = run(sandbox, f"echo x > /tmp/{name} && df -m /tmp | tail -1")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[1] == "1"  # 1 MiB, the sandbox's size
    assert not Path(f"/tmp/{name}").exists()  # never this machine's /tmp
    too_big = run(sandbox, "head -c 2000000 /dev/zero > /tmp/big")
    assert too_big.returncode != 0


def test_the_function_gets_lambdas_variables_not_this_machines(tmp_path: Path) -> None:
    env = defined_variables(tmp_path, tmp_path / "runtime", "python3.12", 1024)
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "1024"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.12"
    assert f"{tmp_path}:{tmp_path}/lib" in env["LD_LIBRARY_PATH"]
    assert "HOME" not in env and not set(env) & {k for k in os.environ if k.startswith("PYTEST")}


def test_code_that_lives_under_tmp_stays_where_it_was(tmp_path: Path) -> None:
    """A checkout under /tmp (CI's, a test's folder): its code is still there, read-only,
    beside the private /tmp."""
    if (refused := sandbox_refusal()) is not None:
        pytest.fail(f"no sandbox on this machine: {refused}")
    code = tmp_path / "task"
    code.mkdir()
    (code / "handler.py").write_text("answer = 42\n")
    done = run(Sandbox((code,), tmp_mib=1), f"cat {code}/handler.py && touch {code}/x")
    assert "answer = 42" in done.stdout
    assert "Read-only file system" in done.stderr and not (code / "x").exists()
