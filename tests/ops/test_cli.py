"""`predcache`: one command whose `--help` lists every job, each with a `--help` of its own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from service.ops import cli

MAKE_TARGETS = ("serve", "offline", "warm", "stress", "soak", "bench", "bench-cold",
                "bench-peer", "simulate")  # fmt: skip


def test_the_installed_command_lists_every_job() -> None:
    command = Path(sys.executable).parent / "predcache"
    done = subprocess.run([str(command), "--help"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0
    listed = {line.split()[0] for line in done.stdout.splitlines() if line.startswith("  ")}
    assert listed == set(cli.JOBS) and {"inspect", "purge", *MAKE_TARGETS} <= listed


@pytest.mark.parametrize("job", sorted(cli.JOBS))
def test_each_job_explains_itself(job: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main([job, "--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: predcache {job}") and len(out.splitlines()) > 2


def test_an_unknown_job_is_refused_with_the_list(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["deploy"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("predcache: unknown job 'deploy'") and "bench-cold" in err


def test_the_makefile_runs_its_jobs_through_predcache() -> None:
    makefile = (Path(__file__).resolve().parents[2] / "Makefile").read_text()
    for job in MAKE_TARGETS:
        assert f"$(PREDCACHE) {job} " in makefile, job


@pytest.mark.parametrize("job", sorted(cli.JOBS))
def test_every_option_of_every_job_says_what_it_does(
    job: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import argparse

    seen: list[argparse.ArgumentParser] = []
    parse = argparse.ArgumentParser.parse_args

    def record(self, *args, **kwargs):
        seen.append(self)
        return parse(self, *args, **kwargs)

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", record)
    with pytest.raises(SystemExit):
        cli.main([job, "--help"])
    silent = [
        "/".join(action.option_strings) or action.dest
        for parser in seen
        for action in parser._actions
        if not action.help and not isinstance(action, argparse._HelpAction)
    ]
    assert silent == [], f"predcache {job}: options without help"


@pytest.mark.parametrize(
    "target", [*MAKE_TARGETS, "package", "package-l0", "test-deploy", "deploy"]
)
def test_every_make_recipe_is_valid_shell(target: str) -> None:
    """What `make -n` would run parses as shell (a comma inside `$(if …)` once split an
    echo's quotes in two, and only a full `make simulate` showed it)."""
    root = Path(__file__).resolve().parents[2]
    dry = subprocess.run(["make", "-n", "--no-print-directory", target], cwd=root,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert dry.returncode == 0, dry.stderr
    parsed = subprocess.run(["sh", "-n"], input=dry.stdout, capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr


MINE = """
from model.iris import Iris, Measurements
from model.contract import Model


class Mine(Model):
    name = "mine"
    Request = Measurements
    Value = Iris.Value
    artifact_file = "mine.pkl"
"""


def predcache(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    command = Path(sys.executable).parent / "predcache"
    return subprocess.run([str(command), *args], cwd=cwd, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **env}, timeout=60)  # fmt: skip


def test_a_folder_names_its_model_once_and_every_help_says_which(tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text(MINE)
    (tmp_path / "predcache.toml").write_text('model = "mine:Mine"\n')
    for args in (["--help"], ["bench", "--help"], ["deps"]):
        done = predcache(*args, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "mine:Mine" in done.stdout
    assert "model.iris:Iris" in predcache("--help", cwd=tmp_path, MODEL="model.iris:Iris").stdout


@pytest.mark.parametrize("job", sorted(cli.NEEDS_PAYLOADS))
def test_a_model_without_payloads_is_refused_in_one_line(job: str, tmp_path: Path) -> None:
    (tmp_path / "mine.py").write_text(MINE)
    done = predcache(job, cwd=tmp_path, MODEL="mine:Mine")
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert "MODEL=mine:Mine has no payload(i)" in line and "def payload(i: int)" in line
