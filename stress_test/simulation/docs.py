"""`make capacity-docs`: prints again every simulated table of a page (docs/capacity.md)
from the command each one names, on the committed reference measurements, so a table
and its command cannot drift apart and every page names one machine.

A block is `<!-- simulate: ARGS -->` … `<!-- /simulate -->`: its body becomes the
command, the date and inputs it was printed from, and `predcache simulate ARGS
--markdown`'s table. `<!-- simulate-legend -->` … `<!-- /simulate-legend -->` becomes
the columns' legend, once per page.

    python -m stress_test.simulation.docs docs/capacity.md
"""

from __future__ import annotations

import contextlib
import io
import json
import re
import shlex
import sys
import time
from pathlib import Path

from stress_test.measurements import REFERENCE
from stress_test.simulation.cli import main as simulate
from stress_test.simulation.columns import legend

BLOCK = re.compile(r"(<!-- simulate: (?P<args>.+?) -->\n).*?(<!-- /simulate -->)", re.S)
LEGEND = re.compile(r"(<!-- simulate-legend -->\n).*?(<!-- /simulate-legend -->)", re.S)


def inputs() -> str:
    """Which measurements the tables come from: the reference machine, when, at which commit."""
    about = json.loads(REFERENCE.read_text())["about"]
    return (f"[the reference machine](benchmarks.md#the-reference-machine)'s measurements "
            f"of {about['measured_on']}, commit {about['commit']}")  # fmt: skip


def table(args: str) -> str:
    """The block's body: its command, when and from what it was printed, and the table."""
    printed = io.StringIO()
    argv = [*shlex.split(args), "--markdown", "--measurements", str(REFERENCE)]
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        if simulate(argv) != 0:
            raise SystemExit(f"predcache simulate {args}: failed; run it to see why")
    stamp = time.strftime("%Y-%m-%d", time.gmtime())
    return (f"`predcache simulate {args}` ({stamp}, {inputs()}; `make capacity-docs`):\n\n"
            f"{printed.getvalue()}")  # fmt: skip


def rewrite(page: Path) -> int:
    """Every block of `page` printed again; the number of blocks."""
    text = page.read_text()
    blocks = len(BLOCK.findall(text))
    text = BLOCK.sub(lambda m: m.group(1) + table(m.group("args")) + m.group(3), text)
    words = "".join(f"- `{heads}`: {meaning}\n" for heads, meaning in legend())
    text = LEGEND.sub(lambda m: m.group(1) + words + m.group(2), text)
    page.write_text(text)
    return blocks


def main(argv: list[str] | None = None) -> int:
    pages = [Path(p) for p in (argv if argv is not None else sys.argv[1:])]
    for page in pages or [Path("docs/capacity.md")]:
        print(f"{page}: {rewrite(page)} tables printed again")
    return 0


if __name__ == "__main__":
    sys.exit(main())
