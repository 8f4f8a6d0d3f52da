"""Where a run's report goes: a folder of its own, named for when it started, and a
`latest` link beside it, so runs never overwrite each other and the newest is one path."""

from __future__ import annotations

import time
from pathlib import Path


def run_folder(root: Path) -> Path:
    """A new `root/<UTC time>` folder, with `root/latest` pointing at it."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    folder, n = root / stamp, 1
    while folder.exists():  # two runs in one second
        folder, n = root / f"{stamp}-{n}", n + 1
    folder.mkdir(parents=True)
    latest = root / "latest"
    link = root / f".latest-{stamp}-{n}"
    link.symlink_to(folder.name)
    link.replace(latest)  # atomic: a reader sees the old run or the new one
    return folder
