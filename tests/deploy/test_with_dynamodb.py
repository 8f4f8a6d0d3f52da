"""deploy/with_dynamodb.py: a command runs with one moto server its embedded tables
share, and exits with the command's status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MAKES_A_TABLE = """
import os, sys
from service.ops.local import SHARED_DYNAMODB_ENV, embedded_table, local_client
with embedded_table("from-the-command") as endpoint:
    tables = local_client(endpoint).list_tables()["TableNames"]
print(os.environ[SHARED_DYNAMODB_ENV], endpoint, tables)
sys.exit(3)
"""


def test_a_command_shares_one_server_and_keeps_its_exit_status() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "deploy" / "with_dynamodb.py"), sys.executable, "-c",
         MAKES_A_TABLE], capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    shared, endpoint, tables = done.stdout.split(" ", 2)
    assert shared == endpoint and endpoint.startswith("http://127.0.0.1:")
    assert "from-the-command" in tables
