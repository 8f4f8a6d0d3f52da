"""One line that says which machine and commit printed a figure, to copy beside it."""

from __future__ import annotations

import datetime
import os
import platform
import subprocess
from pathlib import Path


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _commit() -> str:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return done.stdout.strip() or "unknown"


def describe_machine() -> str:
    """`machine: <date>, <cpu> x <cores>, Python <v>, commit <sha>`."""
    today = datetime.datetime.now(datetime.UTC).date().isoformat()
    return (
        f"machine: {today}, {_cpu_model()} x {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, commit {_commit()}"
    )
