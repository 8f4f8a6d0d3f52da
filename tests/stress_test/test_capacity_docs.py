"""`make capacity-docs`: a page's simulated tables printed again from the commands they
name, on the committed reference measurements, and the columns' legend once."""

from __future__ import annotations

from pathlib import Path

from stress_test.simulation.docs import main


def test_each_block_becomes_its_commands_table_and_the_legend_is_written(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    block = "<!-- simulate: --rate 20 --duration 5 --modes memory,tiered --no-sensitivity -->"
    page.write_text(f"# t\n\n{block}\nstale table\n<!-- /simulate -->\n\n"
                    "<!-- simulate-legend -->\nold\n<!-- /simulate-legend -->\n")  # fmt: skip
    assert main([str(page)]) == 0
    text = page.read_text()
    assert "stale table" not in text and "old\n" not in text
    body = text.split(block)[1].split("<!-- /simulate -->")[0]
    assert "`predcache simulate --rate 20 --duration 5" in body
    assert "[the reference machine](benchmarks.md#the-reference-machine)" in body
    rows = [line for line in body.splitlines() if line.startswith("| ")]
    assert rows[0].startswith("| mode | door | offered/s | answered/s |")
    assert [row.split(" | ")[0] for row in rows[1:]] == ["| memory", "| tiered"]
    assert "- `429 500 502 503 504`: requests refused" in text


def test_the_committed_page_has_no_table_outside_a_block() -> None:
    """Every simulated table of docs/capacity.md sits in a block, so make capacity-docs
    prints it again: a row with the run columns outside one is a stale copy."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "capacity.md").read_text()
    outside = "".join(part.split("<!-- /simulate -->")[-1]
                      for part in text.split("<!-- simulate: "))  # fmt: skip
    assert "| offered/s | answered/s |" not in outside and text.count("<!-- simulate: ") >= 10
